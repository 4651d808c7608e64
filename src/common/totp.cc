#include "common/totp.h"

#include "common/crypto.h"

namespace rampart::totp {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Percent-encodes everything but RFC 3986 unreserved characters (issuer and account are shown
// by authenticator apps and may hold spaces or '@').
std::string UriEscape(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : in) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 0xf];
    }
  }
  return out;
}

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char ch : bytes) {
    buffer = (buffer << 8) | ch;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 0x1f];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 0x1f];
  return out;
}

Result<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char raw : text) {
    if (raw == '=' || raw == ' ') continue;
    char ch = (raw >= 'a' && raw <= 'z') ? static_cast<char>(raw - 'a' + 'A') : raw;
    auto pos = kAlphabet.find(ch);
    if (pos == std::string_view::npos) return Status::InvalidArgument("malformed base32");
    buffer = (buffer << 5) | static_cast<uint32_t>(pos);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

int64_t StepAt(int64_t unix_seconds) {
  return unix_seconds < 0 ? 0 : unix_seconds / kStepSeconds;
}

std::string Code(std::string_view secret, int64_t counter, int digits) {
  std::string msg(8, '\0');
  for (int i = 7; i >= 0; --i) {
    msg[static_cast<size_t>(i)] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  std::string mac = crypto::HmacSha1(secret, msg);
  // RFC 4226 section 5.3: dynamic truncation.
  size_t offset = static_cast<unsigned char>(mac[19]) & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset]) & 0x7f) << 24) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string out = std::to_string(bin % modulus);
  if (out.size() < static_cast<size_t>(digits)) {
    out.insert(0, static_cast<size_t>(digits) - out.size(), '0');
  }
  return out;
}

std::optional<int64_t> Match(std::string_view secret, std::string_view code, int64_t unix_seconds,
                             int64_t last_step) {
  if (code.size() != static_cast<size_t>(kDigits) || secret.empty()) return std::nullopt;
  int64_t now_step = StepAt(unix_seconds);
  std::optional<int64_t> found;
  // Every candidate is computed and compared, so the time taken does not say which one matched.
  for (int64_t step = now_step - kWindowSteps; step <= now_step + kWindowSteps; ++step) {
    if (step < 0) continue;
    bool equal = crypto::ConstantTimeEqual(Code(secret, step), code);
    if (equal && step > last_step && !found) found = step;
  }
  return found;
}

std::string Uri(std::string_view issuer, std::string_view account, std::string_view secret) {
  std::string iss = UriEscape(issuer);
  return "otpauth://totp/" + iss + ":" + UriEscape(account) + "?secret=" + Base32Encode(secret) +
         "&issuer=" + iss + "&algorithm=SHA1&digits=" + std::to_string(kDigits) +
         "&period=" + std::to_string(kStepSeconds);
}

}  // namespace rampart::totp
