// How a web server resolves a URL path before it maps it to a handler or a file, so that rules
// and detectors see "/mifs//./c/appstore/fob/" and "/mifs/403.jsp;jsessionid=1" as the paths
// Apache and Tomcat act on ("/mifs/c/appstore/fob/", "/mifs/403.jsp").
//
//   std::string out;
//   if (UrlPathMayResolve(path)) ResolveUrlPath(path, &out);
#pragma once

#include <string>
#include <string_view>

namespace rampart::detect {

// False only when ResolveUrlPath would give `path` back unchanged: it holds no ';', no "//"
// and no "/.". One SSE2 pass; most paths in a log answer false.
bool UrlPathMayResolve(std::string_view path);

// Writes the resolved form of a percent-decoded path: empty and "." segments dropped, ".."
// taking the previous segment off (never above the root), Servlet path parameters (";...")
// cut from each segment unless cut_parameters is false (Tomcat cuts them before it decodes: a
// ';' that decoding made, from "%3b", is part of the name); a trailing '/' (or a last segment
// of "." or "..") is kept as a trailing '/'. A path that does not start with '/' is copied
// unchanged. Returns whether the path climbed above the root (servers refuse such a request;
// matching still sees the form).
bool ResolveUrlPath(std::string_view path, std::string* out, bool cut_parameters = true);

}  // namespace rampart::detect
