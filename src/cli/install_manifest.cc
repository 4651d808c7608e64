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
  nlohmann::json doc = files::FileListToJson(kFormat, {m.created, m.roots, m.entries});
  doc["signature"] = crypto::HexEncode(*sig);
  return doc.dump(1) + "\n";
}

Result<InstallManifest> ParseAndVerifyManifest(std::string_view text, std::string_view public_key) {
  if (text.size() > kMaxManifestBytes) return Status::InvalidArgument("manifest is too large");
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument("manifest is not JSON");
  auto parsed = files::FileListFromJson(doc, kFormat, {"signature"}, kMaxManifestEntries);
  if (!parsed.ok()) return Status::InvalidArgument("manifest: " + parsed.status().message());
  InstallManifest m{parsed->created, std::move(parsed->roots), std::move(parsed->entries), ""};
  auto sig = doc.find("signature");
  if (sig == doc.end() || !sig->is_string() || sig->get_ref<const std::string&>().size() != 128) {
    return Status::InvalidArgument("manifest: 'signature' must be 128 hex digits");
  }
  auto raw = crypto::HexDecode(sig->get_ref<const std::string&>());
  if (!raw.ok()) return Status::InvalidArgument("manifest: 'signature' must be 128 hex digits");
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
