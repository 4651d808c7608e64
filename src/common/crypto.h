// Thin, allocation-friendly wrappers over libsodium and OpenSSL primitives used across Rampart.
// All functions are thread-safe once InitCrypto() has returned OK (call it once from main()).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::crypto {

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SecretKeyBytes = 64;
inline constexpr size_t kEd25519SignatureBytes = 64;

Status InitCrypto();

// Cryptographically secure random bytes.
std::string RandomBytes(size_t n);
// n random bytes rendered as lower-case hex (2n characters).
std::string RandomHex(size_t n);
// A bearer secret: prefix + "_" + 32 random bytes in URL-safe base64 without padding.
std::string RandomToken(std::string_view prefix);

std::array<uint8_t, 32> Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
// Incremental SHA-256 for large payloads (app packages, files).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  std::string FinishHex();

 private:
  alignas(64) unsigned char state_[256];
};

std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Raw 20-byte HMAC-SHA1. Only for protocols that fix SHA-1, such as RFC 6238 TOTP, where HMAC's
// security does not rest on SHA-1's collision resistance.
std::string HmacSha1(std::string_view key, std::string_view data);

// Passwords: argon2id through libsodium's crypto_pwhash_str, which returns a self-describing
// string ("$argon2id$v=19$m=65536,t=2,p=1$salt$hash") with a fresh random salt. The cost is
// opslimit 2 and 64 MiB of memory (libsodium's INTERACTIVE level, above OWASP's argon2id floor
// of t=2, m=19 MiB) so that a login costs tens of milliseconds on a small server while an
// offline guess costs the same. Internal when the memory cannot be allocated.
Result<std::string> HashPassword(std::string_view password);
// Constant-time in the password; false for a wrong password or a malformed hash.
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);
// Value of one hex digit (either case): 0..15, or -1 for any other character.
int HexDigitValue(char c);
// Standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);
// URL-safe base64 without padding (RFC 4648 section 5).
std::string Base64UrlEncode(std::string_view bytes);

bool ConstantTimeEqual(std::string_view a, std::string_view b);

struct Ed25519KeyPair {
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 64 raw bytes (seed || public key), libsodium layout
};
Ed25519KeyPair GenerateEd25519();
// Returns the 64-byte detached signature. secret_key must be 64 bytes.
Result<std::string> SignEd25519(std::string_view secret_key, std::string_view message);
bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature);
// The Ed25519 key pair of a 32-byte seed (the keeper stores seeds, not expanded keys).
Result<Ed25519KeyPair> Ed25519FromSeed(std::string_view seed);

// XChaCha20-Poly1305 (IETF) with a random 24-byte nonce: returns nonce || ciphertext || tag.
// `associated_data` is authenticated, not encrypted: binding a record id there means a
// ciphertext moved to another row no longer opens. key must be 32 bytes.
inline constexpr size_t kAeadKeyBytes = 32;
Result<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                             std::string_view associated_data);
// InvalidArgument when the key, the associated data or any byte of `sealed` is wrong.
Result<std::string> AeadOpen(std::string_view key, std::string_view sealed,
                             std::string_view associated_data);

}  // namespace rampart::crypto
