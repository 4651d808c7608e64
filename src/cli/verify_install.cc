#include "cli/verify_install.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "cli/exit_codes.h"
#include "cli/install_manifest.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/file_tree.h"
#include "common/files.h"

namespace rampart::cli {
namespace {

int Usage(const std::string& message) {
  std::cerr << "rampart verify-install: " << message << "\n";
  return kExitUsage;
}

// A data directory holds keys the keeper guards; the install-signing key must live elsewhere,
// or whoever reaches the data directory could re-sign a tampered install.
bool InsideDataDirectory(const std::string& file) {
  std::filesystem::path p = std::filesystem::path(files::AbsolutePath(file)).parent_path();
  std::error_code ec;
  for (; !p.empty(); p = p.parent_path()) {
    if (std::filesystem::exists(p / "rampart.db", ec) ||
        std::filesystem::exists(p / "keeper" / "keys.json", ec)) {
      return true;
    }
    if (p == p.parent_path()) break;
  }
  return false;
}

Result<std::string> ReadHexKey(const std::string& path, size_t bytes) {
  auto text = files::ReadWholeFile(path, 4096);
  if (!text.ok()) return Status::InvalidArgument("cannot read " + path);
  std::string hex = *text;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.pop_back();
  }
  auto raw = crypto::HexDecode(hex);
  if (!raw.ok() || raw->size() != bytes) {
    return Status::InvalidArgument(path + " must hold " + std::to_string(bytes * 2) +
                                   " hex digits");
  }
  return raw;
}

std::string Describe(const files::FileState& s) {
  return "sha256 " + s.sha256 + ", " + std::to_string(s.size) + " bytes, mode " +
         files::ModeText(s.mode);
}

std::string IsoTime(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int GenerateKey(const std::string& path) {
  if (InsideDataDirectory(path)) {
    return Usage(path +
                 " is inside a Rampart data directory; keep the install-signing key "
                 "elsewhere (offline, for instance)");
  }
  auto kp = crypto::GenerateEd25519();
  std::string seed_hex = crypto::HexEncode(kp.secret_key.substr(0, 32)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Usage("cannot create " + path + ": " + std::strerror(errno) +
                 (errno == EEXIST ? " (an existing key is never overwritten)" : ""));
  }
  bool ok = ::write(fd, seed_hex.data(), seed_hex.size()) == static_cast<ssize_t>(seed_hex.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Usage("cannot write " + path);
  std::string pub_hex = crypto::HexEncode(kp.public_key);
  std::string pub_path = path + ".pub";
  int pfd = ::open(pub_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (pfd >= 0) {
    std::string line = pub_hex + "\n";
    [[maybe_unused]] ssize_t n = ::write(pfd, line.data(), line.size());
    ::close(pfd);
  }
  std::cout << pub_hex << "\n";
  std::cerr << "private key (seed) written to " << path << " (0600); public key "
            << (pfd >= 0 ? "also in " + pub_path : "printed above") << "\n";
  return kExitVerified;
}

int Create(const VerifyInstallOptions& o) {
  if (o.manifest_file.empty() || o.key_file.empty() || o.paths.empty()) {
    return Usage("--create needs --manifest FILE, --key FILE and at least one path");
  }
  if (InsideDataDirectory(o.key_file)) {
    return Usage(o.key_file +
                 " is inside a Rampart data directory; keep the install-signing "
                 "key elsewhere");
  }
  struct stat st {};
  if (::stat(o.key_file.c_str(), &st) != 0) return Usage("cannot read " + o.key_file);
  if ((st.st_mode & 077) != 0) {
    return Usage(o.key_file + " is readable by others (mode " +
                 files::ModeText(st.st_mode & 07777) + "); chmod 600 it");
  }
  auto seed = ReadHexKey(o.key_file, 32);
  if (!seed.ok()) return Usage(seed.status().message());
  auto kp = crypto::Ed25519FromSeed(*seed);
  if (!kp.ok()) return Usage("unusable key in " + o.key_file);

  InstallManifest m;
  m.created = SystemClock::Instance().NowMillis() / 1000;
  for (const auto& p : o.paths) {
    std::string abs = files::AbsolutePath(p);
    if (std::find(m.roots.begin(), m.roots.end(), abs) == m.roots.end()) m.roots.push_back(abs);
  }
  const std::string manifest_abs = files::AbsolutePath(o.manifest_file);
  files::TreeScan scan = files::ScanTrees(m.roots, {manifest_abs});
  if (!scan.errors.empty()) {
    for (const auto& e : scan.errors) std::cerr << "rampart verify-install: " << e << "\n";
    return Usage("not every file could be read; nothing written");
  }
  m.entries = std::move(scan.files);
  auto text = SignManifest(std::move(m), kp->secret_key);
  if (!text.ok()) return Usage(text.status().message());
  // The manifest is not secret, but it must not be half-written.
  if (Status s = files::WritePrivateFile(o.manifest_file, *text); !s.ok()) {
    return Usage("cannot write " + o.manifest_file + ": " + s.message());
  }
  ::chmod(o.manifest_file.c_str(), 0644);
  auto parsed = ParseAndVerifyManifest(*text, kp->public_key);
  size_t count = parsed.ok() ? parsed->entries.size() : 0;
  std::cout << "manifest written: " << o.manifest_file << " (" << count << " files under "
            << o.paths.size() << " paths), signed by " << crypto::HexEncode(kp->public_key) << "\n";
  return kExitVerified;
}

int Verify(const VerifyInstallOptions& o) {
  if (o.manifest_file.empty() || o.public_key_file.empty()) {
    return Usage("needs --manifest FILE and --public-key FILE (or --create, --generate-key)");
  }
  if (!o.paths.empty()) return Usage("paths are given only with --create");
  auto pub = ReadHexKey(o.public_key_file, crypto::kEd25519PublicKeyBytes);
  if (!pub.ok()) return Usage(pub.status().message());
  auto text = files::ReadWholeFile(o.manifest_file, kMaxManifestBytes);
  if (!text.ok()) return Usage("cannot read " + o.manifest_file + ": " + text.status().message());
  auto m = ParseAndVerifyManifest(*text, *pub);
  if (!m.ok()) return Usage(o.manifest_file + ": " + m.status().message());

  const std::string manifest_abs = files::AbsolutePath(o.manifest_file);
  // A root that is gone shows as its entries removed, not as an unreadable path besides.
  std::vector<std::string> present;
  for (const auto& r : m->roots) {
    struct stat st {};
    if (::lstat(r.c_str(), &st) == 0 || errno != ENOENT) present.push_back(r);
  }
  files::TreeScan scan = files::ScanTrees(present, {manifest_abs});
  for (const auto& e : scan.errors) std::cout << "unreadable    " << e << "\n";
  size_t counts[4] = {0, 0, 0, 0};
  for (const auto& c : files::DiffFileStates(m->entries, scan.files)) {
    counts[static_cast<int>(c.kind)]++;
    std::string kind(files::ChangeKindName(c.kind));
    kind.resize(14, ' ');
    std::cout << kind << files::EncodePath(c.path);
    switch (c.kind) {
      case files::ChangeKind::kAdded:
        std::cout << "  (" << Describe(*c.after) << ")";
        break;
      case files::ChangeKind::kRemoved:
        std::cout << "  (was " << Describe(*c.before) << ")";
        break;
      case files::ChangeKind::kModified:
        std::cout << "  (was " << Describe(*c.before) << "; now " << Describe(*c.after) << ")";
        break;
      case files::ChangeKind::kModeChanged:
        std::cout << "  (mode " << files::ModeText(c.before->mode) << " -> "
                  << files::ModeText(c.after->mode) << ")";
        break;
    }
    std::cout << "\n";
  }
  size_t total = counts[0] + counts[1] + counts[2] + counts[3] + scan.errors.size();
  std::cout << "manifest of " << IsoTime(m->created) << ", signature valid, " << m->entries.size()
            << " files under " << m->roots.size() << " paths: ";
  if (total == 0) {
    std::cout << "identical\n";
    return kExitVerified;
  }
  std::cout << total << " differences (" << counts[0] << " added, " << counts[1] << " removed, "
            << counts[2] << " changed, " << counts[3] << " mode changed, " << scan.errors.size()
            << " unreadable)\n";
  return kExitDifferent;
}

}  // namespace

int VerifyInstall(const VerifyInstallOptions& options) {
  if (!options.generate_key_file.empty()) {
    if (options.create || !options.manifest_file.empty() || !options.paths.empty()) {
      return Usage("--generate-key takes no other option");
    }
    return GenerateKey(options.generate_key_file);
  }
  return options.create ? Create(options) : Verify(options);
}

}  // namespace rampart::cli
