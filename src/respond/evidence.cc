#include "respond/evidence.h"

#include <zlib.h>

#include <array>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/crypto.h"
#include "core/command_signing.h"

namespace rampart::respond {
namespace {

constexpr size_t kBlock = 512;
constexpr std::string_view kManifestName = "manifest.json";
constexpr std::string_view kSignatureName = "manifest.sig";
constexpr std::string_view kFormat = "rampart-evidence-v1";

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 99) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view segment = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

void PutOctal(char* field, size_t width, uint64_t value) {
  // width - 1 digits, zero-padded, then NUL: the form every tar reader accepts.
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && value > 0;) {
    digits[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

uint32_t HeaderChecksum(const char* header) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    bool in_checksum_field = i >= 148 && i < 156;
    sum += in_checksum_field ? uint32_t{' '} : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

void AppendTarFile(std::string* out, std::string_view name, std::string_view content,
                   int64_t mtime) {
  std::array<char, kBlock> header{};
  std::memcpy(header.data(), name.data(), name.size());
  PutOctal(header.data() + 100, 8, 0600);
  PutOctal(header.data() + 108, 8, 0);
  PutOctal(header.data() + 116, 8, 0);
  PutOctal(header.data() + 124, 12, content.size());
  PutOctal(header.data() + 136, 12, static_cast<uint64_t>(mtime < 0 ? 0 : mtime));
  header[156] = '0';
  std::memcpy(header.data() + 257, "ustar", 6);
  std::memcpy(header.data() + 263, "00", 2);
  std::memcpy(header.data() + 265, "rampart", 7);
  std::memcpy(header.data() + 297, "rampart", 7);
  PutOctal(header.data() + 148, 7, HeaderChecksum(header.data()));
  header[155] = ' ';
  out->append(header.data(), kBlock);
  out->append(content);
  out->append((kBlock - content.size() % kBlock) % kBlock, '\0');
}

Result<uint64_t> ParseOctal(const char* field, size_t width) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  bool any = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value > (uint64_t{1} << 60)) return Status::InvalidArgument("tar number out of range");
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') {
      return Status::InvalidArgument("tar header holds a malformed number");
    }
  }
  if (!any) return Status::InvalidArgument("tar header holds an empty number");
  return value;
}

Result<std::string> Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("cannot start gzip compression");
  }
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("gzip compression did not finish");
  out.resize(produced);
  return out;
}

Result<std::string> Gunzip(std::string_view data, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return Status::Internal("cannot start gzip reader");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 64 * 1024> chunk;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::InvalidArgument("the archive is not valid gzip data");
    }
    size_t got = chunk.size() - zs.avail_out;
    if (out.size() + got > max_bytes) {
      inflateEnd(&zs);
      return Status::InvalidArgument("the archive unpacks to more than the allowed size");
    }
    out.append(chunk.data(), got);
    if (rc == Z_OK && got == 0 && zs.avail_in == 0) {
      inflateEnd(&zs);
      return Status::InvalidArgument("the archive is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

// Regular files only, in archive order; anything else (links, devices, long-name extensions)
// is refused rather than skipped, so nothing in a bundle escapes the manifest check.
Result<std::vector<EvidenceFile>> ParseTar(std::string_view tar) {
  std::vector<EvidenceFile> files;
  size_t pos = 0;
  while (true) {
    if (tar.size() - pos < kBlock) return Status::InvalidArgument("the tar archive is truncated");
    const char* header = tar.data() + pos;
    bool zero = true;
    for (size_t i = 0; i < kBlock && zero; ++i) zero = header[i] == '\0';
    if (zero) return files;
    if (std::memcmp(header + 257, "ustar", 5) != 0) {
      return Status::InvalidArgument("the tar archive has a header without the ustar magic");
    }
    RAMPART_ASSIGN_OR_RETURN(uint64_t stored_sum, ParseOctal(header + 148, 8));
    if (stored_sum != HeaderChecksum(header)) {
      return Status::InvalidArgument("a tar header checksum does not match");
    }
    if (header[156] != '0' && header[156] != '\0') {
      return Status::InvalidArgument("the tar archive holds something other than regular files");
    }
    if (header[345] != '\0') {
      return Status::InvalidArgument("the tar archive uses a name prefix, which bundles never do");
    }
    size_t name_len = strnlen(header, 100);
    std::string name(header, name_len);
    if (!ValidName(name)) return Status::InvalidArgument("the tar archive holds a bad file name");
    RAMPART_ASSIGN_OR_RETURN(uint64_t size, ParseOctal(header + 124, 12));
    pos += kBlock;
    if (size > tar.size() - pos) return Status::InvalidArgument("a tar entry is truncated");
    files.push_back({std::move(name), std::string(tar.substr(pos, size))});
    uint64_t padded = size + (kBlock - size % kBlock) % kBlock;
    if (padded > tar.size() - pos) return Status::InvalidArgument("a tar entry is truncated");
    pos += padded;
  }
}

}  // namespace

std::string EvidenceSigningMessage(std::string_view manifest_bytes) {
  return core::EvidenceSigningString(crypto::Sha256Hex(manifest_bytes));
}

Result<std::string> BuildEvidenceArchive(const EvidenceBundle& bundle, int64_t created_at,
                                         const EvidenceSigner& sign) {
  std::set<std::string_view> seen;
  nlohmann::json entries = nlohmann::json::array();
  for (const EvidenceFile& f : bundle.files) {
    if (!ValidName(f.name)) {
      return Status::InvalidArgument("evidence file name not allowed: " + f.name);
    }
    if (f.name == kManifestName || f.name == kSignatureName) {
      return Status::InvalidArgument("evidence file name is reserved: " + f.name);
    }
    if (!seen.insert(f.name).second) {
      return Status::InvalidArgument("evidence file named twice: " + f.name);
    }
    entries.push_back({{"name", f.name},
                       {"size", static_cast<int64_t>(f.content.size())},
                       {"sha256", crypto::Sha256Hex(f.content)}});
  }
  nlohmann::json manifest = {{"format", kFormat},
                             {"bundle_id", bundle.bundle_id},
                             {"purpose", bundle.purpose},
                             {"created_at", created_at},
                             {"files", std::move(entries)}};
  std::string manifest_bytes =
      manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  RAMPART_ASSIGN_OR_RETURN(std::string signature, sign(EvidenceSigningMessage(manifest_bytes)));
  if (signature.size() != crypto::kEd25519SignatureBytes) {
    return Status::InvalidArgument("an evidence signature must be 64 bytes");
  }
  std::string tar;
  AppendTarFile(&tar, kManifestName, manifest_bytes, created_at);
  AppendTarFile(&tar, kSignatureName, crypto::HexEncode(signature) + "\n", created_at);
  for (const EvidenceFile& f : bundle.files) AppendTarFile(&tar, f.name, f.content, created_at);
  tar.append(2 * kBlock, '\0');
  return Gzip(tar);
}

Result<VerifiedEvidence> VerifyEvidenceArchive(std::string_view archive,
                                               std::string_view public_key,
                                               size_t max_unpacked_bytes) {
  if (public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("the public key must be 32 bytes");
  }
  RAMPART_ASSIGN_OR_RETURN(std::string tar, Gunzip(archive, max_unpacked_bytes));
  RAMPART_ASSIGN_OR_RETURN(std::vector<EvidenceFile> files, ParseTar(tar));
  std::map<std::string, const EvidenceFile*> by_name;
  for (const EvidenceFile& f : files) {
    if (!by_name.emplace(f.name, &f).second) {
      return Status::InvalidArgument("the archive holds " + f.name + " twice");
    }
  }
  auto manifest_it = by_name.find(std::string(kManifestName));
  auto signature_it = by_name.find(std::string(kSignatureName));
  if (manifest_it == by_name.end()) return Status::InvalidArgument("manifest.json is missing");
  if (signature_it == by_name.end()) return Status::InvalidArgument("manifest.sig is missing");
  const std::string& manifest_bytes = manifest_it->second->content;
  std::string signature_hex = signature_it->second->content;
  while (!signature_hex.empty() && (signature_hex.back() == '\n' || signature_hex.back() == ' ')) {
    signature_hex.pop_back();
  }
  Result<std::string> signature = crypto::HexDecode(signature_hex);
  if (!signature.ok() || signature->size() != crypto::kEd25519SignatureBytes ||
      !crypto::VerifyEd25519(public_key, EvidenceSigningMessage(manifest_bytes), *signature)) {
    return Status::InvalidArgument("the manifest signature does not verify with the public key");
  }

  // From here on the manifest is authentic; what remains is whether the files match it.
  nlohmann::json manifest = nlohmann::json::parse(manifest_bytes, nullptr, false);
  if (!manifest.is_object() || manifest.value("format", "") != kFormat ||
      !manifest.contains("files") || !manifest["files"].is_array()) {
    return Status::InvalidArgument("manifest.json is not a rampart-evidence-v1 manifest");
  }
  VerifiedEvidence out;
  try {
    out.bundle_id = manifest.at("bundle_id").get<std::string>();
    out.purpose = manifest.at("purpose").get<std::string>();
    out.created_at = manifest.at("created_at").get<int64_t>();
    for (const auto& e : manifest["files"]) {
      out.entries.push_back({e.at("name").get<std::string>(), e.at("size").get<int64_t>(),
                             e.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument("manifest.json has a missing or mistyped field");
  }
  std::set<std::string> listed;
  for (const ManifestEntry& entry : out.entries) {
    auto it = by_name.find(entry.name);
    if (it == by_name.end()) {
      return Status::InvalidArgument("listed in the manifest but missing: " + entry.name);
    }
    const std::string& content = it->second->content;
    if (static_cast<int64_t>(content.size()) != entry.size ||
        crypto::Sha256Hex(content) != entry.sha256_hex) {
      return Status::InvalidArgument("changed after signing: " + entry.name);
    }
    listed.insert(entry.name);
    out.files.push_back(*it->second);
  }
  for (const auto& [name, file] : by_name) {
    if (name != kManifestName && name != kSignatureName && !listed.contains(name)) {
      return Status::InvalidArgument("in the archive but not in the manifest: " + name);
    }
  }
  return out;
}

}  // namespace rampart::respond
