#include "http/router.h"

#include <utility>

namespace rampart::http {
namespace {

bool IsCapture(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Splits "/a/b/c" into {"a","b","c"}. A path that does not start with '/' yields nothing, and
// empty segments ("//", trailing '/') are kept so that they fail to match rather than collapse
// onto another route.
bool SplitPath(std::string_view path, std::vector<std::string_view>* out) {
  out->clear();
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out->push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

// A decoded capture must be a single, ordinary path segment.
bool CaptureAcceptable(const std::string& value) {
  if (value.empty() || value == "." || value == "..") return false;
  return value.find('/') == std::string::npos && value.find('\0') == std::string::npos;
}

// Literal segments compare against the raw, still-encoded segment: an encoded spelling of a
// literal ("dev%69ces") is not the same route, which keeps route identity unambiguous for
// logging and detection.
bool MatchSegments(const std::vector<std::string>& pattern,
                   const std::vector<std::string_view>& segments, PathParams* params) {
  if (pattern.size() != segments.size()) return false;
  PathParams captured;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (!IsCapture(p)) {
      if (p != segments[i]) return false;
      continue;
    }
    Result<std::string> decoded = PercentDecode(segments[i], false);
    if (!decoded.ok() || !CaptureAcceptable(*decoded)) return false;
    captured.emplace(p.substr(1, p.size() - 2), std::move(decoded).value());
  }
  *params = std::move(captured);
  return true;
}

// Higher ranks win: a literal segment beats a capture at the first position where two matching
// patterns differ, so "/devices/search" wins over "/devices/{id}" whatever the order of Add().
bool MoreSpecific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool a_literal = !IsCapture(a[i]);
    bool b_literal = !IsCapture(b[i]);
    if (a_literal != b_literal) return a_literal;
  }
  return false;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, std::string permission, Handler handler) {
  Compiled compiled;
  std::vector<std::string_view> parts;
  if (SplitPath(pattern, &parts)) {
    for (std::string_view part : parts) compiled.segments.emplace_back(part);
  }
  routes_.push_back(
      Route{std::move(method), std::move(pattern), std::move(permission), std::move(handler)});
  compiled_.push_back(std::move(compiled));
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  std::vector<std::string_view> segments;
  if (!SplitPath(path, &segments)) return result;

  auto find = [&](std::string_view wanted_method, RouteMatch* out) {
    size_t best = routes_.size();
    PathParams params;
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (routes_[i].method != wanted_method) continue;
      if (compiled_[i].segments.empty()) continue;
      if (!MatchSegments(compiled_[i].segments, segments, &params)) continue;
      if (best == routes_.size() || MoreSpecific(compiled_[i].segments, compiled_[best].segments)) {
        best = i;
        out->params = std::move(params);
      }
    }
    if (best == routes_.size()) return false;
    out->route = &routes_[best];
    return true;
  };

  if (find(method, &result)) return result;
  // HEAD is answered by the GET route unless one is declared; the server drops the body.
  if (method == "HEAD" && find("GET", &result)) return result;

  PathParams ignored;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!compiled_[i].segments.empty() &&
        MatchSegments(compiled_[i].segments, segments, &ignored)) {
      result.path_matched_other_method = true;
      break;
    }
  }
  result.params.clear();
  return result;
}

}  // namespace rampart::http
