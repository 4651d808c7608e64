#include "detect/url_path.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstdint>
#include <cstring>

namespace rampart::detect {

bool UrlPathMayResolve(std::string_view path) {
  const char* s = path.data();
  const size_t n = path.size();
  // A '/' in the last byte looked at, whose follower comes next.
  bool slash_before = false;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i slash = _mm_set1_epi8('/');
  const __m128i dot = _mm_set1_epi8('.');
  const __m128i semicolon = _mm_set1_epi8(';');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    auto slashes = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, slash)));
    auto dots = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)));
    auto semicolons = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, semicolon)));
    uint32_t followers = slashes | dots;
    if (semicolons != 0 || (slashes & (followers >> 1)) != 0 ||
        (slash_before && (followers & 1u))) {
      return true;
    }
    slash_before = (slashes >> 15) & 1u;
  }
#endif
  for (; i < n; ++i) {
    char c = s[i];
    if (c == ';' || (slash_before && (c == '/' || c == '.'))) return true;
    slash_before = c == '/';
  }
  return false;
}

bool ResolveUrlPath(std::string_view path, std::string* out, bool cut_parameters) {
  out->clear();
  if (path.empty() || path[0] != '/') {
    out->assign(path);
    return false;
  }
  bool climbed = false;
  bool trailing_slash = false;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(pos, slash - pos);
    if (cut_parameters) segment = segment.substr(0, segment.find(';'));
    const bool last = slash == path.size();
    if (segment.empty() || segment == ".") {
      trailing_slash = last;
    } else if (segment == "..") {
      size_t cut = out->rfind('/');
      if (cut == std::string::npos) {
        climbed = true;
      } else {
        out->resize(cut);
      }
      trailing_slash = last;
    } else {
      out->push_back('/');
      out->append(segment);
      trailing_slash = false;
    }
    pos = slash + 1;
  }
  if (out->empty() || trailing_slash) out->push_back('/');
  return climbed;
}

}  // namespace rampart::detect
