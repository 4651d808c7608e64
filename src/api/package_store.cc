#include "api/package_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/crypto.h"
#include "common/log.h"

namespace rampart::api {

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status StorePackage(const std::string& dir, const std::string& bytes, const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return Status::InvalidArgument("not a SHA-256 digest");
  std::string final_path = dir + "/" + sha256;
  std::string tmp_path = dir + "/.upload-" + crypto::RandomHex(8);
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot store package");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp_path.c_str());
      return Status::Internal("cannot store package");
    }
    off += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    ::unlink(tmp_path.c_str());
    return Status::Internal("cannot store package");
  }
  return Status::Ok();
}

Result<std::string> LoadPackage(const std::string& dir, const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return Status::InvalidArgument("not a SHA-256 digest");
  std::string path = dir + "/" + sha256;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::NotFound("package not found");
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Internal("cannot read package");
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (crypto::Sha256Hex(data) != sha256) {
    log::Error("package.integrity_failure", {{"sha256", sha256}});
    return Status::Internal("package integrity check failed");
  }
  return data;
}

}  // namespace rampart::api
