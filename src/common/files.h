// Owner-only files for secrets and state: created 0600 inside 0700 directories, replaced
// atomically so a crash never leaves half a key behind.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::files {

// Creates `dir` (and missing parents, 0755) and forces `dir` itself to mode 0700.
Status EnsurePrivateDirectory(const std::string& dir);
// Writes `data` to path.tmp (0600, fsync), then renames it over `path`.
Status WritePrivateFile(const std::string& path, std::string_view data);
// NotFound when absent; InvalidArgument when larger than max_bytes.
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes);

}  // namespace rampart::files
