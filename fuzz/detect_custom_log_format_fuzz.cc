// libFuzzer target: declared log layouts (CustomLogFormat). The input's first line is a format
// spec (given "nginx:" or "apache:" by its first byte when it has neither), the other lines are
// log lines, parsed in it and in a fixed set of layouts. A refused spec or line is fine; what
// aborts:
// - a parsed event whose values taken as logged do not lie inside the line, whose
//   event.original is not the line, or whose status or size is out of range;
// - a refused line that leaves a value in the event;
// - a second parse of the same line that gives another event.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/custom_log_format.h"
#include "detect/log_parser.h"
#include "tests/detect/reference_log_parser.h"

namespace {

using rampart::detect::CustomLogFormat;
using rampart::detect::Event;
using rampart::detect::Field;

[[noreturn]] void Fail(const char* what, const std::string& spec, std::string_view line) {
  std::fprintf(stderr, "detect_custom_log_format_fuzz: %s\nspec: %s\nline: %.*s\n", what,
               spec.c_str(), static_cast<int>(line.size()), line.data());
  std::abort();
}

void Check(const CustomLogFormat& layout, std::string_view line) {
  Event ev;
  if (!layout.Parse(line, &ev)) {
    if (ev.present_mask() != 0) Fail("a refused line left values", layout.spec(), line);
    return;
  }
  std::string_view whole = line;
  while (!whole.empty() && (whole.back() == '\r' || whole.back() == '\n')) whole.remove_suffix(1);
  if (ev.Get(Field::kEventOriginal) != whole)
    Fail("event.original is not the line", layout.spec(), line);
  // Values taken as logged point into the line (the others are derived: URL parts, and the
  // target built from a path and a query).
  for (Field f :
       {Field::kSourceIp, Field::kUserName, Field::kHttpRequestReferrer, Field::kUserAgentOriginal,
        Field::kHttpRequestXForwardedFor, Field::kHttpRequestCookie, Field::kHttpRequestMimeType,
        Field::kDestinationIp, Field::kHostName, Field::kDestinationDomain,
        Field::kHttpResponseStatusCode, Field::kHttpResponseBodyBytes}) {
    if (!ev.Has(f)) continue;
    const std::string_view v = ev.Get(f);
    if (v.empty() || (v == "-" && f != Field::kDestinationDomain)) {
      Fail("an absent value was set", layout.spec(), line);
    }
    if (v.data() < whole.data() || v.data() + v.size() > whole.data() + whole.size()) {
      Fail("a value outside the line", layout.spec(), line);
    }
  }
  if (ev.Has(Field::kHttpResponseStatusCode) && (ev.status_code() < 0 || ev.status_code() > 999)) {
    Fail("a status out of range", layout.spec(), line);
  }
  if (ev.Has(Field::kHttpResponseBodyBytes) && ev.body_bytes() < 0 &&
      ev.Get(Field::kHttpResponseBodyBytes).size() <= 18) {
    Fail("a size out of range", layout.spec(), line);
  }
  Event again;
  if (!layout.Parse(line, &again)) Fail("a second parse refused the line", layout.spec(), line);
  std::string diff = rampart::detect::reference::EventDifference(again, ev);
  if (!diff.empty()) Fail(("a second parse differs: " + diff).c_str(), layout.spec(), line);
}

const std::vector<CustomLogFormat>& FixedLayouts() {
  static const std::vector<CustomLogFormat> layouts = [] {
    std::vector<CustomLogFormat> v;
    for (std::string_view spec : {
             R"(nginx:$remote_addr - $remote_user [$time_local] "$request" $status )"
             R"($body_bytes_sent "$http_referer" "$http_user_agent" $request_time )"
             R"("$http_x_forwarded_for" $host)",
             R"(nginx:$msec $remote_addr $request_method $uri$is_args$args $status "$http_cookie")",
             R"(apache:%v:%p %a %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D)",
             R"(apache:%{msec}t %h "%m %U%q %H" %s %b "%{X-Forwarded-For}i")",
             R"(nginx:$time_iso8601|$remote_addr|$request_uri|$status|$content_type)",
         }) {
      auto layout = CustomLogFormat::Compile(spec);
      if (!layout.ok()) std::abort();
      v.push_back(std::move(layout).value());
    }
    return v;
  }();
  return layouts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  std::string spec(input.substr(0, newline));
  std::string_view lines = newline == std::string_view::npos ? "" : input.substr(newline + 1);
  if (!spec.starts_with("nginx:") && !spec.starts_with("apache:")) {
    spec = ((spec.empty() || (spec[0] & 1)) ? "nginx:" : "apache:") + spec;
  }
  auto compiled = CustomLogFormat::Compile(spec);
  if (compiled.ok() && compiled->spec() != spec) std::abort();
  for (size_t start = 0; start <= lines.size();) {
    size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) end = lines.size();
    const std::string_view line = lines.substr(start, end - start);
    if (compiled.ok()) Check(*compiled, line);
    for (const CustomLogFormat& layout : FixedLayouts()) Check(layout, line);
    start = end + 1;
  }
  return 0;
}
