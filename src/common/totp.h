// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second steps,
// 6 digits, as every authenticator app implements them, and base32 (RFC 4648 section 6) for the
// shared secret that those apps read from an otpauth:// URI.
//
//   std::string secret = crypto::RandomBytes(kTotpSecretBytes);
//   std::string uri = TotpUri("Rampart", "alice", secret);   // shown once as a QR code
//   auto step = MatchTotp(secret, "123456", now, last_step);  // the step to remember, or none
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::totp {

inline constexpr size_t kSecretBytes = 20;  // 160 bits, RFC 4226's recommendation
inline constexpr int64_t kStepSeconds = 30;
inline constexpr int kDigits = 6;
// Codes of the previous and the next step are accepted too, for clock drift and typing time.
inline constexpr int64_t kWindowSteps = 1;

// Upper-case base32 without padding.
std::string Base32Encode(std::string_view bytes);
// Accepts either case, ignores padding and spaces (people type secrets in groups); InvalidArgument
// for any other character.
Result<std::string> Base32Decode(std::string_view text);

// The time step a Unix time falls in.
int64_t StepAt(int64_t unix_seconds);
// HOTP(secret, counter) truncated to `digits` decimal digits, zero-padded.
std::string Code(std::string_view secret, int64_t counter, int digits = kDigits);

// The step whose code `code` is, within ±kWindowSteps of now and strictly after `last_step`
// (a code is never accepted twice), or nullopt. The comparison is constant-time per candidate.
std::optional<int64_t> Match(std::string_view secret, std::string_view code, int64_t unix_seconds,
                             int64_t last_step);

// otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string Uri(std::string_view issuer, std::string_view account, std::string_view secret);

}  // namespace rampart::totp
