#include "detect/scan.h"

#include "detect/correlation.h"

#include <time.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/json_util.h"
#include "detect/correlation.h"
#include "detect/ioc.h"
#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kMaxUrlInAlert = 2048;
constexpr size_t kSampleLines = 20;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Reads lines from a plain or gzip file (zlib reads plain files through unchanged). Lines over
// kMaxLineBytes are returned truncated with `too_long` set, and the rest of them skipped.
class LineReader {
 public:
  bool Open(const std::string& path) {
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) return false;
    gzbuffer(file_.get(), 1 << 17);
    buf_.resize(kMaxLineBytes + kReadChunk + 1);
    return true;
  }

  // Returns false at end of file or on a read error (see error()).
  bool Next(std::string_view* line, bool* too_long) {
    *too_long = false;
    for (;;) {
      const char* start = buf_.data() + begin_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      if (nl != nullptr) {
        size_t len = static_cast<size_t>(nl - start);
        *line = std::string_view(start, len);
        begin_ += len + 1;
        if (skipping_) {
          skipping_ = false;
          continue;
        }
        if (len > kMaxLineBytes) {
          *line = line->substr(0, kMaxLineBytes);
          *too_long = true;
        }
        return true;
      }
      if (end_ - begin_ > kMaxLineBytes) {
        // An over-long line: report its start once, then drop bytes until its newline.
        *line = std::string_view(start, kMaxLineBytes);
        *too_long = true;
        begin_ = end_ = 0;
        bool was_skipping = skipping_;
        skipping_ = true;
        if (!was_skipping) return true;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        *line = std::string_view(start, end_ - begin_);
        begin_ = end_;
        if (skipping_) return false;
        return true;
      }
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      int n = gzread(file_.get(), buf_.data() + end_, static_cast<unsigned>(kReadChunk));
      if (n < 0) {
        error_ = true;
        eof_ = true;
      } else if (n == 0) {
        eof_ = true;
      } else {
        end_ += static_cast<size_t>(n);
      }
    }
  }

  // Peeks at the first lines without consuming them (for format detection).
  std::vector<std::string> Sample(size_t count) {
    while (!eof_ && end_ < kReadChunk) {
      int n = gzread(file_.get(), buf_.data() + end_, static_cast<unsigned>(kReadChunk - end_));
      if (n <= 0) {
        if (n < 0) error_ = true;
        eof_ = true;
        break;
      }
      end_ += static_cast<size_t>(n);
    }
    std::vector<std::string> lines;
    std::string_view rest(buf_.data() + begin_, end_ - begin_);
    while (lines.size() < count && !rest.empty()) {
      size_t nl = rest.find('\n');
      lines.emplace_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    return lines;
  }

  bool error() const { return error_; }

 private:
  GzFile file_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  bool skipping_ = false;
};

std::string Truncate(std::string_view s, size_t max) {
  return std::string(s.substr(0, std::min(s.size(), max)));
}

struct Alert {
  std::string_view rule;
  std::string_view title;
  std::string_view severity;
  const std::vector<std::string>* attack;
  const Ioc* ioc = nullptr;
  Field ioc_field = Field::kSourceIp;
};

void PrintAlert(const ScanOptions& opt, std::ostream& out, const Alert& a, const std::string& file,
                uint64_t line_no, const Event& ev) {
  if (opt.output_format == "text") {
    out << file << ':' << line_no << ' ' << a.severity << ' ' << a.title
        << " src=" << ev.Get(Field::kSourceIp) << ' ' << Truncate(ev.Get(Field::kUrlOriginal), 200)
        << '\n';
    return;
  }
  nlohmann::json j;
  j["rule"] = a.rule;
  j["title"] = a.title;
  j["severity"] = a.severity;
  j["file"] = file;
  j["line"] = line_no;
  j["source_ip"] = ev.Get(Field::kSourceIp);
  j["attack"] = a.attack ? *a.attack : std::vector<std::string>{};
  if (ev.timestamp_millis() != 0) j["timestamp"] = FormatRfc3339(ev.timestamp_millis() / 1000);
  if (ev.Has(Field::kHttpRequestMethod)) j["method"] = ev.Get(Field::kHttpRequestMethod);
  if (ev.Has(Field::kUrlOriginal)) j["url"] = Truncate(ev.Get(Field::kUrlOriginal), kMaxUrlInAlert);
  if (ev.status_code() >= 0) j["status"] = ev.status_code();
  if (a.ioc != nullptr) {
    j["ioc"] = {{"type", IocTypeName(a.ioc->type)},
                {"value", a.ioc->value},
                {"source", a.ioc->source},
                {"field", FieldName(a.ioc_field)}};
  }
  out << jsonutil::Dump(j) << '\n';
}

std::string RuleKey(const RuleInfo& r) {
  return r.id.empty() ? r.title : r.id;
}

}  // namespace

int RunScanCommand(const ScanOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  std::ostream& err = opt.err ? *opt.err : std::cerr;
  if (opt.output_format != "jsonl" && opt.output_format != "text") {
    err << "rampart scan: unknown --format '" << opt.output_format << "' (jsonl or text)\n";
    return 2;
  }
  auto log_format = LogFormatFromName(opt.log_format);
  if (!log_format) {
    err << "rampart scan: unknown log format '" << opt.log_format
        << "' (auto, common, combined, epmm, jsonl)\n";
    return 2;
  }
  std::vector<std::string> dirs = opt.rule_dirs;
  if (dirs.empty() && !opt.default_rules_dir.empty()) dirs.push_back(opt.default_rules_dir);
  RuleSetBuilder builder;
  // Correlations need the live engine's windows; offline they are named, not evaluated.
  builder.set_keep_correlations(true);
  for (const auto& d : dirs) {
    Status s = builder.AddDirectory(d);
    if (!s.ok()) {
      err << "rampart scan: rules directory " << s.message() << "\n";
      return 2;
    }
  }
  auto compiled = builder.Build();
  if (!compiled.ok()) {
    err << "rampart scan: " << compiled.status().message() << "\n";
    return 2;
  }
  const RuleSet& rules = **compiled;
  for (const auto& s : rules.skipped()) {
    err << "rampart scan: rule skipped: " << s.file << ": " << s.reason << "\n";
  }
  if (!builder.correlations().empty()) {
    err << "rampart scan: " << builder.correlations().size()
        << " correlation rules are evaluated only by the live engine (rampart serve)\n";
  }
  int64_t now = opt.now_millis != 0 ? opt.now_millis : SystemClock::Instance().NowMillis();
  IocStore iocs;
  for (const auto& f : opt.ioc_files) {
    auto r = ImportIocFile(f, now, &iocs);
    if (!r.ok()) {
      err << "rampart scan: IoC file " << r.status().message() << "\n";
      return 2;
    }
    err << "rampart scan: " << f << ": " << r->added << " indicators";
    if (r->skipped > 0) {
      err << ", " << r->skipped << " skipped (";
      bool first = true;
      for (const auto& [reason, n] : r->reasons) {
        err << (first ? "" : "; ") << reason << ": " << n;
        first = false;
      }
      err << ")";
    }
    err << "\n";
  }
  if (rules.size() == 0 && iocs.size() == 0) {
    err << "rampart scan: no usable rules or indicators\n";
    return 2;
  }
  err << "rampart scan: " << rules.size() << " rules loaded, " << rules.skipped().size()
      << " skipped, " << iocs.size() << " indicators\n";

  RuleMatcher matcher(rules);
  Event ev;
  std::vector<uint32_t> hits;
  std::vector<IocMatch> ioc_hits;
  std::vector<uint64_t> per_rule(rules.size(), 0);
  std::map<std::string, uint64_t> per_ioc_type;
  uint64_t total_lines = 0, parse_errors = 0, alerts = 0;
  int exit_code = 0;
  auto start = std::chrono::steady_clock::now();
  double cpu_start = ThreadCpuSeconds();

  for (const auto& path : opt.log_files) {
    LineReader reader;
    if (!reader.Open(path)) {
      err << "rampart scan: " << path << ": cannot open: " << std::strerror(errno) << "\n";
      exit_code = 1;
      continue;
    }
    LogFormat format = *log_format;
    if (format == LogFormat::kAuto) {
      auto sample = reader.Sample(kSampleLines);
      std::vector<std::string_view> views(sample.begin(), sample.end());
      format = DetectFormat(views);
      err << "rampart scan: " << path << ": format " << LogFormatName(format) << "\n";
    }
    LineParser parser(format);
    uint64_t line_no = 0;
    std::string_view line;
    bool too_long = false;
    while (reader.Next(&line, &too_long)) {
      ++line_no;
      if (opt.progress && (line_no & 0xfffff) == 0) {
        err << "\r" << path << ": " << line_no << " lines" << std::flush;
      }
      if (too_long) {
        ++parse_errors;
        err << "rampart scan: " << path << ":" << line_no << ": line longer than " << kMaxLineBytes
            << " bytes skipped\n";
        continue;
      }
      if (line.empty() || (line.size() == 1 && line[0] == '\r')) continue;
      if (!parser.Parse(line, &ev)) continue;
      matcher.Match(ev, &hits);
      for (uint32_t h : hits) {
        const RuleInfo& r = rules.rule(h);
        ++per_rule[h];
        ++alerts;
        PrintAlert(opt, out, {RuleKey(r), r.title, r.severity, &r.attack}, path, line_no, ev);
      }
      if (iocs.size() > 0) {
        iocs.MatchEvent(ev, now, &ioc_hits);
        for (const IocMatch& m : ioc_hits) {
          ++alerts;
          ++per_ioc_type[std::string(IocTypeName(m.ioc->type))];
          std::string title = "IoC match: " + std::string(IocTypeName(m.ioc->type)) + " " +
                              Truncate(m.ioc->value, 200);
          Alert a{"ioc", title, "high", nullptr, m.ioc, m.field};
          PrintAlert(opt, out, a, path, line_no, ev);
        }
      }
    }
    if (opt.progress) err << "\r";
    if (reader.error()) {
      err << "rampart scan: " << path << ": read error after line " << line_no
          << " (truncated gzip?)\n";
      exit_code = 1;
    }
    total_lines += line_no;
    parse_errors += parser.errors();
    if (parser.errors() > 0) {
      err << "rampart scan: " << path << ": " << parser.errors() << " of " << parser.lines()
          << " lines not in " << LogFormatName(format) << " format\n";
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.flush();
  err << "rampart scan: " << total_lines << " lines in " << secs << " s ("
      << static_cast<uint64_t>(secs > 0 ? static_cast<double>(total_lines) / secs : 0)
      << " lines/s), " << parse_errors << " parse errors, " << alerts << " alerts\n";
  // On a shared machine the wall time includes waiting for a core; the thread's CPU time is
  // the figure to compare with a one-core target.
  double cpu = ThreadCpuSeconds() - cpu_start;
  err << "rampart scan: " << cpu << " s of CPU ("
      << static_cast<uint64_t>(cpu > 0 ? static_cast<double>(total_lines) / cpu : 0)
      << " lines per CPU second)\n";
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < per_rule.size(); ++i) {
    if (per_rule[i] > 0) order.emplace_back(per_rule[i], i);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a > b; });
  for (const auto& [n, i] : order) {
    err << "  " << n << "\t" << rules.rule(i).severity << "\t" << rules.rule(i).title << "\n";
  }
  for (const auto& [type, n] : per_ioc_type) err << "  " << n << "\tIoC " << type << "\n";
  return exit_code;
}

int RunRulesCheckCommand(const RulesCheckOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  RuleSetBuilder builder;
  builder.set_keep_correlations(true);
  for (const auto& d : opt.rule_dirs) {
    Status s = builder.AddDirectory(d);
    if (!s.ok()) {
      out << "error: " << s.message() << "\n";
      return 2;
    }
  }
  auto compiled = builder.Build();
  if (!compiled.ok()) {
    out << "error: " << compiled.status().message() << "\n";
    return 2;
  }
  const RuleSet& rules = **compiled;
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  for (size_t i = 0; i < rules.size(); ++i) {
    rows.emplace_back(rules.rule(i).file, "loaded", rules.rule(i).title);
  }
  for (const auto& s : rules.skipped()) {
    rows.emplace_back(s.file, "skipped", (s.title.empty() ? "" : s.title + ": ") + s.reason);
  }
  // Correlation rules: parsed, and every rule they name must be loaded.
  std::set<std::string> refs;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!rules.rule(i).id.empty()) refs.insert(rules.rule(i).id);
    if (!rules.rule(i).name.empty()) refs.insert(rules.rule(i).name);
  }
  size_t correlations = 0, bad_correlations = 0;
  for (const auto& [origin, text] : builder.correlations()) {
    auto c = ParseCorrelationRule(text, origin);
    std::string problem = c.ok() ? "" : c.status().message();
    if (c.ok()) {
      for (const auto& r : c->rules) {
        if (!refs.count(r)) problem = "correlation refers to rule '" + r + "', which is not loaded";
      }
    }
    if (problem.empty()) {
      ++correlations;
      rows.emplace_back(origin, "loaded",
                        c->info.title + " (" + std::string(CorrelationTypeName(c->type)) + ")");
    } else {
      ++bad_correlations;
      rows.emplace_back(origin, "skipped", problem);
    }
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [file, status, text] : rows) {
    out << status << "\t" << file << "\t" << text << "\n";
  }
  out << rules.size() + correlations << " loaded, " << rules.skipped().size() + bad_correlations
      << " skipped (" << correlations << " correlations, " << rules.vectorscan_matchers()
      << " Vectorscan matchers, " << rules.fallback_matchers() << " evaluated in C++)\n";
  return rules.skipped().empty() && bad_correlations == 0 ? 0 : 1;
}

}  // namespace rampart::detect
