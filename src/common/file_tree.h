// The state of files on disk, as file integrity monitoring (detect/file_integrity.h) and the
// signed install manifest (cli/install_manifest.h) both record it: SHA-256, size and permission
// bits of every regular file under a set of roots, and the differences between two such states.
//
//   files::TreeScan now = files::ScanTrees({"/opt/rampart", "/srv/www"}, {});
//   for (const auto& c : files::DiffFileStates(baseline, now.files)) ...
//
// Symbolic links are never followed (a link to a directory could make the walk loop or leave
// the roots); ScanTrees records them as links when asked (file integrity does: a webshell kept
// elsewhere and linked into a web root is served all the same). Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::files {

struct FileState {
  std::string sha256;  // lower-case hex; of the target text for a symbolic link
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits only (st_mode & 07777)
  // A symbolic link's target as stored in the link (not resolved); "" for a regular file.
  std::string link_target;
  bool operator==(const FileState&) const = default;
  bool is_link() const { return !link_target.empty(); }
};

// Absolute, lexically normal path → state. Ordered, so that listings are stable.
using FileStates = std::map<std::string, FileState>;

// Hashes one regular file without following a symlink and without blocking on a FIFO swapped in
// between. NotFound when absent or not a regular file; Internal when it cannot be read.
Result<FileState> HashRegularFile(const std::string& path);
// HashRegularFile, or the state of a symbolic link at `path` (its target text, never followed).
// NotFound when absent or neither.
Result<FileState> StateOfPath(const std::string& path);

// MD5 and SHA-1 of a regular file (lower-case hex), read the same way. Only to match indicator
// feeds that name files by those digests alone; never to decide whether a file changed. The
// SHA-256 and size come from the same read, so that a caller can tell whether the legacy
// digests describe the content it hashed before (the file may have changed in between).
struct LegacyDigests {
  std::string md5, sha1, sha256;
  uint64_t size = 0;
};
Result<LegacyDigests> LegacyFileDigests(const std::string& path);

struct TreeScan {
  FileStates files;
  std::vector<std::string> errors;  // "PATH: reason" for what could not be read
};
// Every regular file under each root (a root may itself be a file), and every symbolic link
// when `with_links`. Paths under one of `exclude` (absolute prefixes) are skipped. Missing roots
// are reported in errors.
TreeScan ScanTrees(const std::vector<std::string>& roots, const std::vector<std::string>& exclude,
                   bool with_links = false);

// An absolute, lexically normal form of `path` (relative to the working directory).
std::string AbsolutePath(const std::string& path);
// True when `path` is `dir` or lies below it (both absolute and normal).
bool IsUnder(std::string_view path, std::string_view dir);

enum class ChangeKind { kAdded, kRemoved, kModified, kModeChanged };
std::string_view ChangeKindName(ChangeKind kind);  // "added", "removed", "changed", "mode changed"

struct FileChange {
  ChangeKind kind;
  std::string path;
  std::optional<FileState> before;  // absent for kAdded
  std::optional<FileState> after;   // absent for kRemoved
};
// Differences from `before` to `after`, in path order. Content and mode both changed is
// kModified (with both states, so the mode change is visible too).
std::vector<FileChange> DiffFileStates(const FileStates& before, const FileStates& after);

// File names are bytes, JSON strings are UTF-8: paths are written with '%' and every byte that
// is a control character or not part of valid UTF-8 as %XX, which round-trips exactly.
std::string EncodePath(std::string_view path);
// InvalidArgument on a bad escape, an escape that was not needed, or a NUL byte.
Result<std::string> DecodePath(std::string_view encoded);

// Octal text of permission bits, "0644".
std::string ModeText(uint32_t mode);

// The JSON form of a file list: [{"path", "sha256", "size", "mode"}] in path order, paths
// encoded with EncodePath, modes as ModeText; a symbolic link adds "link" (its target, encoded
// like a path).
nlohmann::json FileStatesToJson(const FileStates& files);
// InvalidArgument naming the entry for anything malformed: not an array, more than
// `max_entries`, a missing or mistyped field, an unknown field, a relative or non-normal path,
// a duplicate path, a hash that is not 64 lower-case hex digits, a mode that is not 4 octal
// digits, a "link" where `allow_links` is false (the signed install manifest records none).
Result<FileStates> FileStatesFromJson(const nlohmann::json& entries, size_t max_entries,
                                      bool allow_links = false);

// A JSON document listing files: {"format", "version": 1, "created", "roots", "entries"}, the
// shape of both the integrity baseline and the install manifest (which adds "signature").
struct FileListDocument {
  int64_t created = 0;             // Unix seconds
  std::vector<std::string> roots;  // absolute
  FileStates entries;
};
nlohmann::json FileListToJson(std::string_view format, const FileListDocument& doc);
// InvalidArgument for another format or version, a field other than those and `extra_fields`,
// a missing or mistyped field, an empty or relative root, or a malformed entry.
Result<FileListDocument> FileListFromJson(const nlohmann::json& doc, std::string_view format,
                                          const std::vector<std::string_view>& extra_fields,
                                          size_t max_entries, bool allow_links = false);

}  // namespace rampart::files
