// libFuzzer target: the hex-run mask (detect/hex_run_mask.h). Input: literals, one per line,
// up to an empty line, then the text. Where the mask writes over the text, other hex digits
// are put; the two texts must then have one masked form and the same literal occurrences
// (with and without case folding), or the rule matcher could give a target another's marks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/hex_run_mask.h"

namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::vector<size_t> Occurrences(const std::vector<std::string>& literals, std::string_view text,
                                bool caseless) {
  auto fold = [&](char c) {
    return caseless && c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
  };
  std::vector<size_t> found;
  for (size_t l = 0; l < literals.size(); ++l) {
    for (size_t at = 0; at + literals[l].size() <= text.size(); ++at) {
      size_t i = 0;
      while (i < literals[l].size() && fold(text[at + i]) == fold(literals[l][i])) ++i;
      if (i == literals[l].size()) found.push_back(l * 4096 + at);
    }
  }
  return found;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  rampart::detect::HexRunMask mask;
  std::vector<std::string> literals;
  size_t at = 0;
  while (at < input.size()) {
    size_t end = input.find('\n', at);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(at, end - at);
    at = end + 1;
    if (line.empty()) break;
    if (literals.size() < 64 && line.size() <= 64) {
      literals.emplace_back(line);
      mask.AddLiteral(line);
    }
  }
  if (!mask.usable() || literals.empty()) return 0;
  std::string_view text = at < input.size() ? input.substr(at) : std::string_view();
  if (text.size() > 2048) text = text.substr(0, 2048);
  std::string form(text.size(), '\0'), ones(text), places(text.size(), '\0');
  bool masked = mask.Mask(text, form.data());
  // Where the mask writes depends on which bytes are hex digits, not on which digits.
  for (char& c : ones) {
    if (IsHexDigit(c)) c = '1';
  }
  mask.Mask(ones, places.data());
  std::string other(text);
  bool any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool written = places[i] == '0' && ones[i] == '1';
    if (written ? form[i] != '0' : form[i] != text[i]) std::abort();
    if (written) {
      other[i] = "fedcba9876543210FEDCBA"[static_cast<unsigned char>(text[i]) % 22];
      any = true;
    }
  }
  if (any != masked) std::abort();
  std::string other_form(other.size(), '\0');
  mask.Mask(other, other_form.data());
  if (other_form != form) std::abort();
  for (bool caseless : {true, false}) {
    if (Occurrences(literals, text, caseless) != Occurrences(literals, other, caseless)) {
      std::abort();
    }
  }
  return 0;
}
