#include "common/text.h"

#include <cstdint>

namespace rampart {

namespace {

// Format characters that show nothing yet reorder or hide what follows (bidirectional
// overrides and isolates, zero-width characters, tags), and the line and paragraph separators:
// kept, they would let a value disguise itself or pass for another line.
bool Invisible(uint32_t cp) {
  return cp == 0xad || (cp >= 0x600 && cp <= 0x605) || cp == 0x61c || cp == 0x6dd || cp == 0x70f ||
         cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         (cp >= 0xe0000 && cp <= 0xe007f);
}

// The length of the well-formed UTF-8 sequence of two to four bytes at p[0] (lead byte, then
// continuation bytes, no overlong form, no surrogate, at most U+10FFFF) and its code point;
// 0 when there is none.
size_t Utf8Sequence(const unsigned char* p, size_t n, uint32_t* cp) {
  const unsigned char b = p[0];
  size_t len = b >= 0xc2 && b <= 0xdf   ? 2
               : b >= 0xe0 && b <= 0xef ? 3
               : b >= 0xf0 && b <= 0xf4 ? 4
                                        : 0;
  if (len == 0 || len > n) return 0;
  uint32_t c = len == 2 ? b & 0x1fu : len == 3 ? b & 0x0fu : b & 0x07u;
  for (size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xc0) != 0x80) return 0;
    c = c << 6 | (p[k] & 0x3fu);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
      (c >= 0xd800 && c <= 0xdfff)) {
    return 0;
  }
  *cp = c;
  return len;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {
      out.push_back(static_cast<char>(p[i++]));
      continue;
    }
    uint32_t cp = 0;
    size_t len = Utf8Sequence(p + i, n - i, &cp);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

void AppendTerminalSafe(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto escape = [&](unsigned char b) {
    out->append("\\x");
    out->push_back(kHex[b >> 4]);
    out->push_back(kHex[b & 15]);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = p[i];
    if (b == '\\') {
      out->append("\\\\");
      ++i;
      continue;
    }
    if (b >= 0x20 && b < 0x7f) {
      out->push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence, not a C1 control (U+0080..U+009F) nor invisible.
    uint32_t cp = 0;
    size_t len = Utf8Sequence(p + i, n - i, &cp);
    bool valid = len != 0 && !(cp >= 0x80 && cp <= 0x9f) && !Invisible(cp);
    if (!valid) {
      escape(b);
      ++i;
      continue;
    }
    out->append(text.substr(i, len));
    i += len;
  }
}

std::string TerminalSafe(std::string_view text) {
  std::string out;
  AppendTerminalSafe(text, &out);
  return out;
}

std::string Joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

}  // namespace rampart
