#include "cli/install_manifest.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace rampart::cli {
namespace {

constexpr std::string_view kFormat = "rampart-install-manifest";

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void PutBytes(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

}  // namespace

std::string CanonicalManifestBytes(const InstallManifest& m) {
  std::string out(kManifestDomain);
  out.push_back('\0');
  PutU32(&out, 1);
  PutU64(&out, static_cast<uint64_t>(m.created));
  PutU32(&out, static_cast<uint32_t>(m.roots.size()));
  for (const auto& r : m.roots) PutBytes(&out, r);
  PutU64(&out, m.entries.size());
  for (const auto& [path, st] : m.entries) {
    PutBytes(&out, path);
    // Parsed hashes are checked to be 64 hex digits; a wrong one encodes as zeros and can never
    // match a signature made over the real digest.
    auto raw = crypto::HexDecode(st.sha256);
    out.append(raw.ok() && raw->size() == 32 ? *raw : std::string(32, '\0'));
    PutU64(&out, st.size);
    PutU32(&out, st.mode);
  }
  return out;
}

Result<std::string> SignManifest(InstallManifest m, std::string_view secret_key) {
  auto sig = crypto::SignEd25519(secret_key, CanonicalManifestBytes(m));
  if (!sig.ok()) return sig.status();
  nlohmann::json roots = nlohmann::json::array();
  for (const auto& r : m.roots) roots.push_back(files::EncodePath(r));
  nlohmann::json doc = {{"format", kFormat},
                        {"version", 1},
                        {"created", m.created},
                        {"roots", roots},
                        {"entries", files::FileStatesToJson(m.entries)},
                        {"signature", crypto::HexEncode(*sig)}};
  return doc.dump(1) + "\n";
}

Result<InstallManifest> ParseAndVerifyManifest(std::string_view text, std::string_view public_key) {
  if (text.size() > kMaxManifestBytes) return Status::InvalidArgument("manifest is too large");
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("manifest is not a JSON object");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "format" && key != "version" && key != "created" && key != "roots" &&
        key != "entries" && key != "signature") {
      return Status::InvalidArgument("manifest has an unknown field '" + key + "'");
    }
  }
  auto format = doc.find("format");
  if (format == doc.end() || *format != kFormat) {
    return Status::InvalidArgument("not a Rampart install manifest");
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || *version != 1) {
    return Status::InvalidArgument("unsupported manifest version");
  }
  InstallManifest m;
  auto created = doc.find("created");
  if (created == doc.end() || !created->is_number_integer()) {
    return Status::InvalidArgument("'created' must be an integer");
  }
  m.created = created->get<int64_t>();
  auto roots = doc.find("roots");
  if (roots == doc.end() || !roots->is_array() || roots->empty() || roots->size() > 10000) {
    return Status::InvalidArgument("'roots' must be a non-empty array of paths");
  }
  for (const auto& r : *roots) {
    if (!r.is_string()) return Status::InvalidArgument("'roots' must be an array of paths");
    auto p = files::DecodePath(r.get_ref<const std::string&>());
    if (!p.ok() || p->empty() || (*p)[0] != '/') {
      return Status::InvalidArgument("'roots' holds a path that is not absolute");
    }
    m.roots.push_back(std::move(p).value());
  }
  auto entries = doc.find("entries");
  if (entries == doc.end()) return Status::InvalidArgument("'entries' is missing");
  auto parsed = files::FileStatesFromJson(*entries, kMaxManifestEntries);
  if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message());
  m.entries = std::move(parsed).value();
  auto sig = doc.find("signature");
  if (sig == doc.end() || !sig->is_string() || sig->get_ref<const std::string&>().size() != 128) {
    return Status::InvalidArgument("'signature' must be 128 hex digits");
  }
  auto raw = crypto::HexDecode(sig->get_ref<const std::string&>());
  if (!raw.ok()) return Status::InvalidArgument("'signature' must be 128 hex digits");
  if (public_key.size() != crypto::kEd25519PublicKeyBytes ||
      !crypto::VerifyEd25519(public_key, CanonicalManifestBytes(m), *raw)) {
    return Status::PermissionDenied(
        "the manifest's signature does not verify with this public key: it was altered or "
        "signed with another key; no entry of it is trusted");
  }
  m.signature = std::move(raw).value();
  return m;
}

}  // namespace rampart::cli
