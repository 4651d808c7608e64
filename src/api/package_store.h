// App packages on disk, named by their SHA-256: DIR/<64 hex>. No name ever comes from a request:
// callers hand in a digest that was validated as 64 lower-case hex characters and looked up in
// the catalogue first. Reads re-hash the file so a package swapped on disk is refused rather
// than pushed to devices.
#pragma once

#include <string>

#include "common/status.h"

namespace rampart::api {

bool IsSha256Hex(std::string_view s);

// Writes `bytes` to DIR/<sha256> via a temporary file and rename. `sha256` must be the digest
// of `bytes` (the caller computed it to look the package up first).
Status StorePackage(const std::string& dir, const std::string& bytes, const std::string& sha256);
// Reads DIR/<sha256>; NotFound if absent, Internal if its content no longer has that digest.
Result<std::string> LoadPackage(const std::string& dir, const std::string& sha256);

}  // namespace rampart::api
