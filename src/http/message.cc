#include "http/message.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace rampart::http {

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

bool Request::QueryParam(std::string_view name, std::string* value) const {
  value->clear();
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    Result<std::string> key = PercentDecode(raw_key, true);
    // A key that does not decode cannot be the one asked for; keep looking.
    if (!key.ok() || *key != name) continue;
    Result<std::string> decoded = PercentDecode(raw_value, true);
    if (!decoded.ok()) return false;
    *value = std::move(decoded).value();
    return true;
  }
  return false;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Error(const Status& status) {
  return Error(HttpStatusFor(status.code()), CodeName(status.code()), status.message());
}

Response Response::Error(int http_status, std::string_view code, std::string_view message) {
  nlohmann::json body;
  body["error"]["code"] = std::string(code);
  body["error"]["message"] = std::string(message);
  // Replace rather than throw on invalid UTF-8: an error message must always render.
  return Json(http_status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kConflict:
      return 409;
    case Code::kAlreadyExists:
      return 409;
    case Code::kPayloadTooLarge:
      return 413;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

Result<std::string> PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) {
        return Status::InvalidArgument("truncated percent escape");
      }
      int hi = crypto::HexDigitValue(in[i + 1]);
      int lo = crypto::HexDigitValue(in[i + 2]);
      if (hi < 0 || lo < 0) return Status::InvalidArgument("bad percent escape");
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return Status::InvalidArgument("percent escape decodes to NUL");
      out.push_back(decoded);
      i += 2;
    } else if (c == '\0') {
      return Status::InvalidArgument("NUL byte in encoded text");
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace rampart::http
