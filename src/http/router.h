// Router: maps (method, path pattern) to a handler and the permission the route demands.
// Patterns are literal segments and "{name}" captures, e.g. "/api/v1/devices/{id}/commands".
// Captured values are percent-decoded; a capture that decodes to "", ".", ".." or contains
// '/' or a NUL byte does not match (so a path cannot walk out of its route).
//
// Every route declares its permission here, in one table, so that tests can walk the whole
// route list (Routes()) and compare it with docs/openapi.yaml and the role matrix.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace rampart::http {

using PathParams = std::map<std::string, std::string, std::less<>>;
using Handler = std::function<Response(const Request&, const PathParams&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string permission;  // e.g. "devices.read"; "public" and "device" are special
  Handler handler;
};

struct RouteMatch {
  const Route* route = nullptr;  // null: no route
  PathParams params;
  bool path_matched_other_method = false;  // for 405 versus 404
};

class Router {
 public:
  void Add(std::string method, std::string pattern, std::string permission, Handler handler);
  // Thread-safe after the last Add().
  RouteMatch Match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& Routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{x}" marks a capture
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

}  // namespace rampart::http
