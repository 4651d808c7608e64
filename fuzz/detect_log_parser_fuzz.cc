// libFuzzer target: every log-line parser and the format detector on arbitrary bytes, and the
// single-pass access-log parser (ParseAccessLogLine, LineParser, SetUrlFields) against the
// reference parser it replaced (tests/detect/reference_log_parser.h) on the whole input and on
// each of its lines: any difference in verdict or in a field aborts, naming the field. A parsed
// line is then attributed to its forwarded client (AttributeToForwardedClient) under a fixed
// set of trusted proxies, which must name only an address that is no proxy's.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/forwarded.h"
#include "common/ip.h"
#include "common/json_util.h"
#include "detect/log_parser.h"
#include "tests/detect/reference_log_parser.h"

namespace {

[[noreturn]] void Differ(const char* what, std::string_view line, const std::string& detail) {
  std::fprintf(stderr, "detect_log_parser_fuzz: %s differs from the reference: %s\nline: %.*s\n",
               what, detail.c_str(), static_cast<int>(line.size()), line.data());
  std::abort();
}

// One line through the fast parsers and the reference. The lines of one input go through the
// same per-thread time cache one after another, as the lines of a log do.
void CompareWithReference(std::string_view line) {
  rampart::detect::Event fast, slow;
  bool ok = rampart::detect::ParseAccessLogLine(line, &fast);
  bool ref = rampart::detect::reference::RefParseAccessLogLine(line, &slow);
  if (ok != ref)
    Differ("ParseAccessLogLine verdict", line,
           ok ? "fast accepts, reference refuses" : "fast refuses, reference accepts");
  if (ok) {
    std::string diff = rampart::detect::reference::EventDifference(fast, slow);
    if (!diff.empty()) Differ("ParseAccessLogLine", line, diff);
  }
  // A line from a trusted proxy goes to the client its X-Forwarded-For names: only from a
  // proxy's line, and only ever to an address that is no proxy's.
  if (ok) {
    static const rampart::ProxyTrust kTrust{{*rampart::ParseCidr("10.0.0.0/8"),
                                             *rampart::ParseCidr("1.0.0.0/8"),
                                             *rampart::ParseCidr("2001:db8::/32")}};
    const std::string peer(fast.Get(rampart::detect::Field::kSourceIp));
    const std::string forwarded(fast.Get(rampart::detect::Field::kHttpRequestXForwardedFor));
    const auto how = rampart::detect::AttributeToForwardedClient(kTrust, &fast);
    std::string_view client = fast.Get(rampart::detect::Field::kSourceIp);
    auto fail = [&](const char* what) {
      std::fprintf(stderr, "detect_log_parser_fuzz: %s: %s attributed to %.*s\n", what,
                   peer.c_str(), static_cast<int>(client.size()), client.data());
      std::abort();
    };
    if (how == rampart::detect::Attribution::kForwardedClient &&
        (!rampart::IsTrustedProxy(peer, kTrust) || !rampart::ParseIp(client) ||
         rampart::IsTrustedProxy(client, kTrust))) {
      fail("not a client behind a proxy");
    }
    if (how != rampart::detect::Attribution::kForwardedClient && client != peer) {
      fail("changed without attribution");
    }
    // The other way: from a proxy, a last hop that is a plain address and no proxy's is the
    // client, whatever came before it (else a client could hide behind the proxy).
    const size_t comma = forwarded.rfind(',');
    std::string_view last = std::string_view(forwarded).substr(comma + 1);
    while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
    while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
    if (auto hop = rampart::ParseIp(last); hop && rampart::IsTrustedProxy(peer, kTrust) &&
                                           last.front() != '[' &&
                                           !rampart::IsTrustedProxy(last, kTrust)) {
      if (how != rampart::detect::Attribution::kForwardedClient ||
          client != rampart::FormatIp(*hop)) {
        fail("the proxy's last hop was not taken");
      }
    }
  }
  rampart::detect::LineParser parser(rampart::detect::LogFormat::kEpmm);
  rampart::detect::Event by_parser;
  if (parser.Parse(line, &by_parser) != ref || parser.errors() != (ref ? 0u : 1u)) {
    Differ("LineParser verdict", line,
           ref ? "LineParser refuses, reference accepts" : "LineParser accepts, reference refuses");
  }
  if (ref) {
    std::string diff = rampart::detect::reference::EventDifference(by_parser, slow);
    if (!diff.empty()) Differ("LineParser", line, diff);
  }
  // The line as a request target on its own (the URL splitter is reached only through a
  // well-formed request line otherwise). Both get a scratch buffer, as the parsers give.
  if (line.size() <= rampart::detect::kMaxLineBytes) {
    rampart::detect::Event fast_url, slow_url;
    fast_url.ReserveScratch(line.size());
    slow_url.ReserveScratch(line.size());
    rampart::detect::SetUrlFields(line, &fast_url);
    rampart::detect::reference::RefSetUrlFields(line, &slow_url);
    std::string diff = rampart::detect::reference::EventDifference(fast_url, slow_url);
    if (!diff.empty()) Differ("SetUrlFields", line, diff);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  rampart::detect::Event ev;
  if (rampart::detect::ParseAccessLogLine(line, &ev)) {
    (void)ev.Decoded(rampart::detect::Field::kUrlQuery);
  }
  (void)rampart::detect::ParseJsonLine(line, &ev);
  std::optional<int64_t> time = rampart::detect::ParseLogTime(line);
  // The time cache must agree with the full parse: cold, remembered, and for a neighbour that
  // differs only in its seconds (answered from what this text left behind).
  if (line.size() >= 3 && line[2] == '/') {
    rampart::detect::internal::ApacheTimeCache cache;
    if (cache.Parse(line) != time || cache.Parse(line) != time) std::abort();
    if (line.size() >= 20) {
      std::string next(line);
      next[18] = '5';
      next[19] = '9';
      if (cache.Parse(next) != rampart::detect::ParseLogTime(next)) std::abort();
    }
  }
  // `rampart scan` quotes logged fields in its alerts as nlohmann::json did, byte for byte.
  std::string quoted;
  rampart::jsonutil::AppendString(line, &quoted);
  if (quoted != nlohmann::json(std::string(line))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    std::abort();
  }
  std::string_view sample[] = {line, line};
  (void)rampart::detect::DetectFormat(sample);
  CompareWithReference(line);
  for (size_t start = 0; start < line.size();) {
    size_t end = line.find('\n', start);
    if (end == std::string_view::npos) end = line.size();
    CompareWithReference(line.substr(start, end - start));
    start = end + 1;
  }
  return 0;
}
