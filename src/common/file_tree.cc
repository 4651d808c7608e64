#include "common/file_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include <openssl/evp.h>

#include "common/crypto.h"

namespace rampart::files {
namespace {

// Length of the valid UTF-8 sequence starting at s[i] (excluding overlongs, surrogates and
// code points past U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void ScanInto(const std::string& path, const std::vector<std::string>& exclude, TreeScan* out,
              int depth, bool with_links) {
  for (const auto& ex : exclude) {
    if (IsUnder(path, ex)) return;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    out->errors.push_back(path + ": " + std::strerror(errno));
    return;
  }
  if (S_ISREG(st.st_mode)) {
    auto h = HashRegularFile(path);
    if (h.ok()) {
      out->files[path] = std::move(h).value();
    } else if (h.status().code() != Code::kNotFound) {
      out->errors.push_back(path + ": " + h.status().message());
    }
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    if (!with_links) return;
    auto link = StateOfPath(path);
    if (link.ok() && link->is_link()) {
      out->files[path] = std::move(link).value();
    } else if (!link.ok() && link.status().code() != Code::kNotFound) {
      out->errors.push_back(path + ": " + link.status().message());
    }
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  // Deeper than any real install tree: a crafted nest of directories must not exhaust the stack.
  if (depth > 64) {
    out->errors.push_back(path + ": directory nesting deeper than 64 levels not scanned");
    return;
  }
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    out->errors.push_back(path + ": " + std::strerror(errno));
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    ScanInto(path == "/" ? "/" + name : path + "/" + name, exclude, out, depth + 1, with_links);
  }
}

}  // namespace

namespace {

// Reads a regular file without following a symlink and without blocking on a FIFO swapped in
// between, handing each chunk to `take`; *st receives its fstat. NotFound when absent or not a
// regular file; Internal when it cannot be read.
Status ReadRegularFile(const std::string& path, const std::function<void(std::string_view)>& take,
                       struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
      return Status::NotFound(path + " is not a regular file");
    }
    return Status::Internal(std::string("cannot open: ") + std::strerror(errno));
  }
  if (::fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    ::close(fd);
    return Status::NotFound(path + " is not a regular file");
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::Internal(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    take(std::string_view(buf, static_cast<size_t>(n)));
  }
  ::close(fd);
  return Status::Ok();
}

struct EvpContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using EvpContext = std::unique_ptr<EVP_MD_CTX, EvpContextDeleter>;

std::string FinishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &size) != 1) return "";
  return crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

}  // namespace

Result<FileState> HashRegularFile(const std::string& path) {
  crypto::Sha256Stream hash;
  uint64_t size = 0;
  struct stat st {};
  RAMPART_RETURN_IF_ERROR(ReadRegularFile(
      path,
      [&](std::string_view chunk) {
        hash.Update(chunk);
        size += chunk.size();
      },
      &st));
  FileState state;
  state.sha256 = hash.FinishHex();
  state.size = size;
  state.mode = st.st_mode & 07777;
  return state;
}

Result<LegacyDigests> LegacyFileDigests(const std::string& path) {
  EvpContext md5(EVP_MD_CTX_new()), sha1(EVP_MD_CTX_new());
  if (!md5 || !sha1 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(sha1.get(), EVP_sha1(), nullptr) != 1) {
    return Status::Internal("MD5 or SHA-1 is not available");
  }
  bool updated = true;
  crypto::Sha256Stream sha256;
  uint64_t size = 0;
  struct stat st {};
  RAMPART_RETURN_IF_ERROR(ReadRegularFile(
      path,
      [&](std::string_view chunk) {
        updated = updated && EVP_DigestUpdate(md5.get(), chunk.data(), chunk.size()) == 1 &&
                  EVP_DigestUpdate(sha1.get(), chunk.data(), chunk.size()) == 1;
        sha256.Update(chunk);
        size += chunk.size();
      },
      &st));
  LegacyDigests out{FinishHex(md5.get()), FinishHex(sha1.get()), sha256.FinishHex(), size};
  if (!updated || out.md5.empty() || out.sha1.empty()) {
    return Status::Internal("MD5 or SHA-1 could not be computed");
  }
  return out;
}

TreeScan ScanTrees(const std::vector<std::string>& roots, const std::vector<std::string>& exclude,
                   bool with_links) {
  TreeScan out;
  for (const auto& root : roots) ScanInto(AbsolutePath(root), exclude, &out, 0, with_links);
  return out;
}

Result<FileState> StateOfPath(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound(path + " does not exist");
    return Status::Internal(std::string("cannot stat: ") + std::strerror(errno));
  }
  if (!S_ISLNK(st.st_mode)) return HashRegularFile(path);
  char target[4096];
  ssize_t n = ::readlink(path.c_str(), target, sizeof target);
  if (n < 0) {
    // Replaced between the two calls: a regular file now (EINVAL), or gone.
    if (errno == EINVAL) return HashRegularFile(path);
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::Internal(std::string("cannot read the link: ") + std::strerror(errno));
  }
  if (n == 0 || static_cast<size_t>(n) >= sizeof target) {
    return Status::Internal("link target empty or too long");
  }
  FileState state;
  state.link_target.assign(target, static_cast<size_t>(n));
  state.sha256 = crypto::Sha256Hex(state.link_target);
  state.size = state.link_target.size();
  state.mode = st.st_mode & 07777;
  return state;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) p = path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool IsUnder(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  if (!path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kRemoved:
      return "removed";
    case ChangeKind::kModified:
      return "changed";
    case ChangeKind::kModeChanged:
      return "mode changed";
  }
  return "changed";
}

std::vector<FileChange> DiffFileStates(const FileStates& before, const FileStates& after) {
  std::vector<FileChange> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({ChangeKind::kRemoved, b->first, b->second, std::nullopt});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({ChangeKind::kAdded, a->first, std::nullopt, a->second});
      ++a;
    } else {
      if (b->second.sha256 != a->second.sha256 || b->second.size != a->second.size) {
        out.push_back({ChangeKind::kModified, a->first, b->second, a->second});
      } else if (b->second.mode != a->second.mode) {
        out.push_back({ChangeKind::kModeChanged, a->first, b->second, a->second});
      }
      ++a;
      ++b;
    }
  }
  return out;
}

std::string EncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  size_t i = 0;
  while (i < path.size()) {
    auto c = static_cast<unsigned char>(path[i]);
    size_t n = Utf8SequenceLength(path, i);
    if (c == '%' || c < 0x20 || c == 0x7F || n == 0) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
      ++i;
    } else {
      out.append(path.substr(i, n));
      i += n;
    }
  }
  return out;
}

Result<std::string> DecodePath(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out.push_back(encoded[i]);
      continue;
    }
    int hi = i + 2 < encoded.size() ? crypto::HexDigitValue(encoded[i + 1]) : -1;
    int lo = i + 2 < encoded.size() ? crypto::HexDigitValue(encoded[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Status::InvalidArgument("path has a malformed %-escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return Status::InvalidArgument("path holds a NUL byte");
  // One path, one spelling: what was signed or stored decodes and re-encodes to itself.
  if (EncodePath(out) != encoded) return Status::InvalidArgument("path is not canonically encoded");
  return out;
}

std::string ModeText(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

nlohmann::json FileStatesToJson(const FileStates& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [path, st] : files) {
    nlohmann::json entry = {{"path", EncodePath(path)},
                            {"sha256", st.sha256},
                            {"size", st.size},
                            {"mode", ModeText(st.mode)}};
    if (st.is_link()) entry["link"] = EncodePath(st.link_target);
    out.push_back(std::move(entry));
  }
  return out;
}

Result<FileStates> FileStatesFromJson(const nlohmann::json& entries, size_t max_entries,
                                      bool allow_links) {
  if (!entries.is_array()) return Status::InvalidArgument("'entries' must be an array");
  if (entries.size() > max_entries) {
    return Status::InvalidArgument("more than " + std::to_string(max_entries) + " entries");
  }
  FileStates out;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string where = "entry " + std::to_string(i) + ": ";
    const bool link = allow_links && e.is_object() && e.contains("link");
    if (!e.is_object() || e.size() != (link ? 5u : 4u)) {
      return Status::InvalidArgument(where +
                                     "must be an object of path, sha256, size, mode (and link)");
    }
    auto path_it = e.find("path");
    auto hash_it = e.find("sha256");
    auto size_it = e.find("size");
    auto mode_it = e.find("mode");
    if (path_it == e.end() || hash_it == e.end() || size_it == e.end() || mode_it == e.end()) {
      return Status::InvalidArgument(where + "must be an object of path, sha256, size, mode");
    }
    if (!path_it->is_string()) return Status::InvalidArgument(where + "'path' must be a string");
    auto path = DecodePath(path_it->get_ref<const std::string&>());
    if (!path.ok()) return Status::InvalidArgument(where + path.status().message());
    if (path->empty() || (*path)[0] != '/' ||
        std::filesystem::path(*path).lexically_normal().string() != *path ||
        (path->size() > 1 && path->back() == '/')) {
      return Status::InvalidArgument(where + "'path' must be absolute and normal");
    }
    FileState st;
    if (link) {
      const auto& target = e["link"];
      if (!target.is_string()) return Status::InvalidArgument(where + "'link' must be a string");
      auto decoded = DecodePath(target.get_ref<const std::string&>());
      if (!decoded.ok() || decoded->empty()) {
        return Status::InvalidArgument(where + "'link' must be a non-empty encoded path");
      }
      st.link_target = std::move(decoded).value();
    }
    if (!hash_it->is_string() || hash_it->get_ref<const std::string&>().size() != 64) {
      return Status::InvalidArgument(where + "'sha256' must be 64 lower-case hex digits");
    }
    st.sha256 = hash_it->get<std::string>();
    for (char c : st.sha256) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return Status::InvalidArgument(where + "'sha256' must be 64 lower-case hex digits");
      }
    }
    if (!size_it->is_number_unsigned()) {
      return Status::InvalidArgument(where + "'size' must be a non-negative integer");
    }
    st.size = size_it->get<uint64_t>();
    if (!mode_it->is_string() || mode_it->get_ref<const std::string&>().size() != 4) {
      return Status::InvalidArgument(where + "'mode' must be 4 octal digits");
    }
    for (char c : mode_it->get_ref<const std::string&>()) {
      if (c < '0' || c > '7')
        return Status::InvalidArgument(where + "'mode' must be 4 octal digits");
      st.mode = st.mode * 8 + static_cast<uint32_t>(c - '0');
    }
    if (!out.emplace(std::move(path).value(), std::move(st)).second) {
      return Status::InvalidArgument(where + "duplicate path");
    }
  }
  return out;
}

nlohmann::json FileListToJson(std::string_view format, const FileListDocument& doc) {
  nlohmann::json roots = nlohmann::json::array();
  for (const auto& r : doc.roots) roots.push_back(EncodePath(r));
  return {{"format", format},
          {"version", 1},
          {"created", doc.created},
          {"roots", roots},
          {"entries", FileStatesToJson(doc.entries)}};
}

Result<FileListDocument> FileListFromJson(const nlohmann::json& doc, std::string_view format,
                                          const std::vector<std::string_view>& extra_fields,
                                          size_t max_entries, bool allow_links) {
  if (!doc.is_object()) return Status::InvalidArgument("not a JSON object");
  static constexpr std::string_view kFields[] = {"format", "version", "created", "roots",
                                                 "entries"};
  for (const auto& [key, value] : doc.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields) &&
        std::find(extra_fields.begin(), extra_fields.end(), key) == extra_fields.end()) {
      return Status::InvalidArgument("unknown field '" + key + "'");
    }
  }
  auto fmt = doc.find("format");
  if (fmt == doc.end() || !fmt->is_string() || fmt->get_ref<const std::string&>() != format) {
    return Status::InvalidArgument("not a " + std::string(format) + " document");
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || *version != 1) {
    return Status::InvalidArgument("unsupported version");
  }
  FileListDocument out;
  auto created = doc.find("created");
  if (created == doc.end() || !created->is_number_integer()) {
    return Status::InvalidArgument("'created' must be an integer");
  }
  out.created = created->get<int64_t>();
  auto roots = doc.find("roots");
  if (roots == doc.end() || !roots->is_array() || roots->empty() || roots->size() > 10000) {
    return Status::InvalidArgument("'roots' must be a non-empty array of paths");
  }
  for (const auto& r : *roots) {
    if (!r.is_string()) return Status::InvalidArgument("'roots' must be an array of paths");
    auto p = DecodePath(r.get_ref<const std::string&>());
    if (!p.ok() || p->empty() || (*p)[0] != '/') {
      return Status::InvalidArgument("'roots' holds a path that is not absolute");
    }
    out.roots.push_back(std::move(p).value());
  }
  auto entries = doc.find("entries");
  if (entries == doc.end()) return Status::InvalidArgument("'entries' is missing");
  auto parsed = FileStatesFromJson(*entries, max_entries, allow_links);
  if (!parsed.ok()) return parsed.status();
  out.entries = std::move(parsed).value();
  return out;
}

}  // namespace rampart::files
