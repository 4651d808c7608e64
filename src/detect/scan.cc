#include "detect/scan.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "common/clock.h"
#include "common/forwarded.h"
#include "common/json_util.h"
#include "common/text.h"
#include "detect/correlation.h"
#include "detect/custom_log_format.h"
#include "detect/hs_runtime.h"
#include "detect/ioc.h"
#include "detect/log_file_source.h"
#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kMaxUrlInAlert = 2048;
// The event fields an alert line prints (PrintAlert), which a window decided later keeps.
constexpr Field kWindowNoteFields[] = {Field::kSourceIp, Field::kHttpRequestMethod,
                                       Field::kUrlOriginal};
constexpr size_t kMaxShortValueInNote = 256;  // the address and the method
constexpr size_t kSampleLines = 20;
// Keys each correlation tracks at most (the live engine's default): a scan of a huge log with
// many sources evicts the least recently active, as the server does.
constexpr size_t kMaxCorrelationKeys = 100000;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Reads lines from a plain, gzip or xz file (LogFileSource). Lines over kMaxLineBytes are
// returned truncated with `too_long` set, and the rest of them skipped.
class LineReader {
 public:
  Status Open(const std::string& path) {
    auto source = LogFileSource::Open(path);
    if (!source.ok()) return source.status();
    file_ = std::move(*source);
    buf_.resize(kMaxLineBytes + kReadChunk + 1);
    return Status::Ok();
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
      int n = file_->Read(buf_.data() + end_, kReadChunk);
      if (n <= 0) {
        error_ = n < 0 || file_->EndedMidStream();
        eof_ = true;
      } else {
        end_ += static_cast<size_t>(n);
      }
    }
  }

  // Peeks at the first lines without consuming them (for format detection).
  std::vector<std::string> Sample(size_t count) {
    while (!eof_ && end_ < kReadChunk) {
      int n = file_->Read(buf_.data() + end_, kReadChunk - end_);
      if (n <= 0) {
        error_ = n < 0 || file_->EndedMidStream();
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
  std::string_view kind() const { return file_->kind(); }
  // The file's size as stored (0 when not a regular file), and how much of it has been read.
  uint64_t size() const { return file_->size(); }
  uint64_t raw_offset() const { return file_->raw_offset(); }

 private:
  std::unique_ptr<LogFileSource> file_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  bool skipping_ = false;
};

// Draws the progress line on a terminal at most five times a second.
class ProgressLine {
 public:
  ProgressLine(std::ostream& err, bool enabled) : err_(err), enabled_(enabled) {
    winsize ws{};
    if (enabled_ && ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) {
      width_ = ws.ws_col - 1;
    }
  }
  void StartFile(std::string_view path, size_t index, size_t count) {
    progress_ = {path, index, count, 0, 0, 0, 0};
    started_ = last_ = std::chrono::steady_clock::now();
  }
  // Cheap enough to call per line: looks at the clock once every 16,384 lines.
  void Lines(uint64_t lines, const LineReader& reader) {
    if (!enabled_ || (lines & 0x3fff) != 0) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    progress_.lines = lines;
    progress_.bytes_read = reader.raw_offset();
    progress_.bytes_total = reader.size();
    progress_.seconds = std::chrono::duration<double>(now - started_).count();
    err_ << '\r' << internal::RenderProgress(progress_, width_) << "\x1b[K" << std::flush;
  }
  void EndFile() { Clear(); }
  // Before another message on the same stream, so that it starts on a clean line.
  void Clear() {
    if (enabled_) err_ << "\r\x1b[K" << std::flush;
  }

 private:
  std::ostream& err_;
  bool enabled_;
  size_t width_ = 79;
  internal::ScanProgress progress_;
  std::chrono::steady_clock::time_point started_, last_;
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
  // A correlation's alert: the rule and what completed it (the line is the one that did).
  const CorrelationRule* correlation = nullptr;
  const CorrelationHit* correlation_hit = nullptr;
};

void AppendNumber(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendKey(std::string_view key, std::string* out) {
  out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

}  // namespace

namespace {

// One alert per line. The JSON object is written directly, keys in the sorted order
// nlohmann::json's std::map gave them, with the same escaping (jsonutil::AppendString).
void PrintAlert(const ScanOptions& opt, std::string* out, const Alert& a, const std::string& file,
                uint64_t line_no, const Event& ev) {
  if (opt.output_format == "text") {
    AppendTerminalSafe(file, out);
    out->push_back(':');
    AppendNumber(line_no, out);
    out->push_back(' ');
    AppendTerminalSafe(a.severity, out);
    out->push_back(' ');
    AppendTerminalSafe(a.title, out);
    out->append(" src=");
    AppendTerminalSafe(ev.Get(Field::kSourceIp), out);
    out->push_back(' ');
    AppendTerminalSafe(ev.Get(Field::kUrlOriginal).substr(0, 200), out);
    if (a.correlation_hit != nullptr) {
      out->append(" correlation=");
      AppendTerminalSafe(a.correlation_hit->entity, out);
      out->push_back('(');
      AppendNumber(static_cast<uint64_t>(a.correlation_hit->value), out);
      out->push_back(')');
    }
    out->push_back('\n');
    return;
  }
  out->append("{\"attack\":[");
  if (a.attack != nullptr) {
    for (size_t i = 0; i < a.attack->size(); ++i) {
      if (i > 0) out->push_back(',');
      jsonutil::AppendString((*a.attack)[i], out);
    }
  }
  out->push_back(']');
  if (a.correlation_hit != nullptr) {
    AppendKey("correlation", out);
    out->append("{\"entity\":");
    jsonutil::AppendString(a.correlation_hit->entity, out);
    out->append(",\"timespan_seconds\":");
    AppendNumber(static_cast<uint64_t>(a.correlation->timespan_millis / 1000), out);
    out->append(",\"type\":");
    jsonutil::AppendString(CorrelationTypeName(a.correlation->type), out);
    out->append(",\"value\":");
    AppendNumber(static_cast<uint64_t>(a.correlation_hit->value), out);
    if (a.correlation_hit->at_window_end) {
      // Decided as its window closed; the line is the last one it counted.
      out->append(",\"window_start\":");
      jsonutil::AppendString(FormatRfc3339(a.correlation_hit->first_millis / 1000), out);
    }
    out->push_back('}');
  }
  AppendKey("file", out);
  jsonutil::AppendString(file, out);
  if (a.ioc != nullptr) {
    AppendKey("ioc", out);
    out->append("{\"field\":");
    jsonutil::AppendString(FieldName(a.ioc_field), out);
    out->append(",\"source\":");
    jsonutil::AppendString(a.ioc->source, out);
    out->append(",\"type\":");
    jsonutil::AppendString(IocTypeName(a.ioc->type), out);
    out->append(",\"value\":");
    jsonutil::AppendString(a.ioc->value, out);
    out->push_back('}');
  }
  AppendKey("line", out);
  AppendNumber(line_no, out);
  if (ev.Has(Field::kHttpRequestMethod)) {
    AppendKey("method", out);
    jsonutil::AppendString(ev.Get(Field::kHttpRequestMethod), out);
  }
  AppendKey("rule", out);
  jsonutil::AppendString(a.rule, out);
  AppendKey("severity", out);
  jsonutil::AppendString(a.severity, out);
  AppendKey("source_ip", out);
  jsonutil::AppendString(ev.Get(Field::kSourceIp), out);
  if (ev.status_code() >= 0) {
    AppendKey("status", out);
    AppendNumber(static_cast<uint64_t>(ev.status_code()), out);
  }
  if (ev.timestamp_millis() != 0) {
    AppendKey("timestamp", out);
    jsonutil::AppendString(FormatRfc3339(ev.timestamp_millis() / 1000), out);
  }
  AppendKey("title", out);
  jsonutil::AppendString(a.title, out);
  if (ev.Has(Field::kUrlOriginal)) {
    AppendKey("url", out);
    jsonutil::AppendString(ev.Get(Field::kUrlOriginal).substr(0, kMaxUrlInAlert), out);
  }
  out->append("}\n");
}

std::string RuleKey(const RuleInfo& r) {
  return r.id.empty() ? r.title : r.id;
}

// Consecutive lines of one file, copied out of the reader's buffer so that a matching thread
// can work on them while the reader goes on; then what matching them produced.
class Batch {
 public:
  static constexpr size_t kMaxLines = 4096;
  static constexpr size_t kMaxBytes = 1 << 21;

  // `layout` is the declared layout when format is kCustom, else null.
  Batch(size_t file, LogFormat format, const CustomLogFormat* layout)
      : file_(file), format_(format), layout_(layout) {
    text_.reserve(kMaxBytes);
  }

  LineParser NewParser() const {
    return format_ == LogFormat::kCustom ? LineParser(layout_) : LineParser(format_);
  }

  void Add(std::string_view line, uint64_t line_no) {
    lines_.push_back({text_.size(), line.size(), line_no});
    text_.append(line);
  }
  bool full() const { return lines_.size() >= kMaxLines || text_.size() >= kMaxBytes; }

  struct Line {
    size_t offset, length;
    uint64_t number;
  };
  size_t file_;
  LogFormat format_;
  const CustomLogFormat* layout_;
  uint64_t seq_ = 0;
  std::string text_;
  std::vector<Line> lines_;
  // Results.
  std::string output_;
  std::vector<std::pair<uint32_t, uint64_t>> rule_hits_;  // rule index, count
  std::map<std::string, uint64_t> ioc_hits_;              // IoC type, count
  // Lines whose matches feed correlation rules, kept (the text goes when the batch is matched)
  // for the writer, which runs the correlations in the order the lines were read.
  struct CorrelationFeed {
    uint32_t rule;
    uint64_t line_no;
    std::string line;
  };
  std::vector<CorrelationFeed> feeds_;
  uint64_t alerts_ = 0, parsed_ = 0, parse_errors_ = 0;
  uint64_t first_parse_error_ = 0;  // line number of the batch's first unparsable line
  // Lines read in the other family (ParseInOtherFamily), and the first of them.
  uint64_t other_format_ = 0, first_other_format_ = 0;
  // Lines from a --trusted-proxy: attributed to the client it named, or naming none.
  uint64_t forwarded_clients_ = 0, forwarded_unnamed_ = 0;
  std::string error_;  // set when matching the batch failed
};

struct FileTotals {
  uint64_t lines = 0, parse_errors = 0;
  uint64_t first_parse_error = 0;  // line number, 0 when none
  uint64_t other_format = 0, first_other_format = 0;
  uint64_t forwarded_clients = 0, forwarded_unnamed = 0;
};

struct ScanTotals {
  std::vector<FileTotals> files;
  std::vector<uint64_t> per_rule;
  std::vector<uint64_t> per_correlation;
  std::map<std::string, uint64_t> per_ioc_type;
  uint64_t alerts = 0;
  double worker_cpu_seconds = 0;
  std::vector<std::string> errors;  // batches that could not be matched
};

// What one matching thread owns: a matcher (its own Vectorscan scratch) and an event.
class BatchMatcher {
 public:
  BatchMatcher(const ScanOptions& opt, const RuleSet& rules, const LinkedCorrelations& links,
               const IocStore& iocs, int64_t now, const std::vector<std::string>& files,
               const ProxyTrust& proxies)
      : opt_(opt),
        rules_(rules),
        links_(links),
        iocs_(iocs),
        now_(now),
        files_(files),
        proxies_(proxies),
        matcher_(rules) {}

  void Run(Batch* b) {
    std::string out;
    LineParser parser = b->NewParser();
    std::vector<uint64_t> per_rule(rules_.size(), 0);
    const std::string& path = files_[b->file_];
    matcher_.PrepareLines(b->text_);
    for (const Batch::Line& l : b->lines_) {
      std::string_view line(b->text_.data() + l.offset, l.length);
      if (!parser.Parse(line, &ev_)) {
        // The format came from the file's first lines; a file may change format part way (a
        // front end switched to JSON logging), and each line is read as what it is.
        if (!ParseInOtherFamily(line, parser.format(), &ev_)) {
          if (b->first_parse_error_ == 0) b->first_parse_error_ = l.number;
          continue;
        }
        if (b->other_format_++ == 0) b->first_other_format_ = l.number;
      }
      if (!proxies_.proxies.empty()) {
        const Attribution how = AttributeToForwardedClient(proxies_, &ev_);
        b->forwarded_clients_ += how == Attribution::kForwardedClient;
        b->forwarded_unnamed_ += how == Attribution::kNoClientNamed;
      }
      matcher_.Match(ev_, &hits_);
      for (uint32_t h : hits_) {
        if (!links_.feeds[h].empty()) b->feeds_.push_back({h, l.number, std::string(line)});
        if (!links_.generates[h]) continue;  // it only feeds correlations
        const RuleInfo& r = rules_.rule(h);
        ++per_rule[h];
        ++b->alerts_;
        PrintAlert(opt_, &out, {RuleKey(r), r.title, r.severity, &r.attack}, path, l.number, ev_);
      }
      if (iocs_.size() > 0) {
        // A hunt asks whether the line's address was bad when the line was logged: an
        // indicator whose valid_until has passed since still names January's intruder.
        const int64_t at = ev_.timestamp_millis() > 0 ? ev_.timestamp_millis() : now_;
        iocs_.MatchEvent(ev_, at, &ioc_hits_);
        // A line a rule flagged has its payload read for indicators too (the address an
        // exploit fetches its second stage from); reading every line's would cost every line.
        iocs_.MatchEmbedded(ev_, /*payloads=*/!hits_.empty(), at, &ioc_hits_);
        for (const IocMatch& m : ioc_hits_) {
          ++b->alerts_;
          ++b->ioc_hits_[std::string(IocTypeName(m.ioc->type))];
          std::string title = "IoC match: " + std::string(IocTypeName(m.ioc->type)) + " " +
                              Truncate(m.ioc->value, 200);
          Alert a{"ioc", title, m.ioc->severity, &m.ioc->attack, m.ioc, m.field};
          PrintAlert(opt_, &out, a, path, l.number, ev_);
        }
      }
    }
    for (size_t i = 0; i < per_rule.size(); ++i) {
      if (per_rule[i] > 0) b->rule_hits_.emplace_back(static_cast<uint32_t>(i), per_rule[i]);
    }
    b->parsed_ = parser.lines();
    b->parse_errors_ = parser.errors() - b->other_format_;
    b->output_ = std::move(out);
    // The lines are no longer needed (and the matcher must not keep pointing at them); the
    // writer holds the batch until its turn.
    matcher_.PrepareLines({});
    std::string().swap(b->text_);
    std::vector<Batch::Line>().swap(b->lines_);
  }

 private:
  const ScanOptions& opt_;
  const RuleSet& rules_;
  const LinkedCorrelations& links_;
  const IocStore& iocs_;
  int64_t now_;
  const std::vector<std::string>& files_;
  const ProxyTrust& proxies_;
  RuleMatcher matcher_;
  Event ev_;
  std::vector<uint32_t> hits_;
  std::vector<IocMatch> ioc_hits_;
};

// Reader → matching threads → writer. Batches are matched in any order on any thread and
// written in the order they were read, so the output is the same for any number of threads.
// With one thread, batches are matched on the caller's thread as they come.
class ScanPipeline {
 public:
  // `proxies`: --trusted-proxy, parsed (and checked) by RunScanCommand; outlives the pipeline.
  ScanPipeline(const ScanOptions& opt, const RuleSet& rules, const LinkedCorrelations& links,
               const IocStore& iocs, int64_t now, const ProxyTrust& proxies, std::ostream& out)
      : opt_(opt),
        rules_(rules),
        links_(links),
        iocs_(iocs),
        now_(now),
        out_(out),
        proxies_(proxies),
        tracker_(links.rules, kMaxCorrelationKeys) {
    unsigned n = opt.threads;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    threads_ = std::min(n, 64u);
    totals_.per_rule.assign(rules.size(), 0);
    totals_.per_correlation.assign(links.rules.size(), 0);
    if (threads_ > 1) {
      // Fewer threads than asked when the system refuses more; none: match inline.
      try {
        for (unsigned i = 0; i < threads_; ++i) workers_.emplace_back([this] { Work(); });
      } catch (const std::system_error&) {
      }
      threads_ = static_cast<unsigned>(workers_.size());
    }
    if (threads_ <= 1 && workers_.empty()) {
      threads_ = 1;
      inline_matcher_ =
          std::make_unique<BatchMatcher>(opt, rules, links, iocs, now, opt.log_files, proxies);
    }
  }

  ~ScanPipeline() { Stop(); }

  unsigned threads() const { return threads_; }

  std::unique_ptr<Batch> NewBatch(size_t file, LogFormat format, const CustomLogFormat* layout) {
    return std::make_unique<Batch>(file, format, layout);
  }

  void Submit(std::unique_ptr<Batch> batch) {
    if (batch->lines_.empty()) return;
    batch->seq_ = next_seq_++;
    if (inline_matcher_) {
      RunGuarded(inline_matcher_.get(), batch.get());
      Write(*batch);
      ++written_;
      return;
    }
    std::unique_lock lock(mu_);
    // Bounded: the reader waits (writing finished batches) rather than buffer the whole log.
    for (;;) {
      WriteReady(lock);
      if (next_seq_ - 1 - written_ < 2 * threads_) break;
      done_cv_.wait(lock);
    }
    queue_.push_back(std::move(batch));
    work_cv_.notify_one();
  }

  ScanTotals Finish(size_t files) {
    if (!inline_matcher_) {
      std::unique_lock lock(mu_);
      for (;;) {
        WriteReady(lock);
        if (written_ == next_seq_) break;
        done_cv_.wait(lock);
      }
    }
    Stop();
    // The input has ended: every window still open is decided.
    correlation_hits_.clear();
    tracker_.CloseAllWindows(&correlation_hits_);
    std::string out;
    WriteWindowAlerts(&out);
    out_ << out;
    totals_.files.resize(std::max(files, totals_.files.size()));
    return std::move(totals_);
  }

 private:
  // A batch whose matching threw (memory exhausted, say) is written as failed, so that the
  // pipeline goes on and the scan ends with the error instead of std::terminate.
  void RunGuarded(BatchMatcher* matcher, Batch* b) {
    std::string error;
    try {
      if (matcher == nullptr) throw std::runtime_error("matching thread could not start");
      matcher->Run(b);
      return;
    } catch (const std::exception& e) {
      error = e.what();
    }
    b->output_.clear();
    b->rule_hits_.clear();
    b->ioc_hits_.clear();
    b->feeds_.clear();
    b->alerts_ = b->parsed_ = b->parse_errors_ = b->first_parse_error_ = 0;
    b->other_format_ = b->first_other_format_ = 0;
    b->forwarded_clients_ = b->forwarded_unnamed_ = 0;
    b->error_ = "lines " + std::to_string(b->lines_.empty() ? 0 : b->lines_.front().number) + "-" +
                std::to_string(b->lines_.empty() ? 0 : b->lines_.back().number) +
                " not matched: " + error;
  }

  void Work() {
    std::unique_ptr<BatchMatcher> matcher;
    try {
      matcher = std::make_unique<BatchMatcher>(opt_, rules_, links_, iocs_, now_, opt_.log_files,
                                               proxies_);
    } catch (const std::exception&) {
      // Every batch this thread takes is then written as failed (RunGuarded).
    }
    double cpu_start = ThreadCpuSeconds();
    std::unique_lock lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;
      std::unique_ptr<Batch> b = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      RunGuarded(matcher.get(), b.get());
      lock.lock();
      uint64_t seq = b->seq_;
      done_.emplace(seq, std::move(b));
      done_cv_.notify_all();
    }
    totals_.worker_cpu_seconds += ThreadCpuSeconds() - cpu_start;
  }

  // Writes every finished batch whose turn has come. Called with mu_ held; writes without it.
  void WriteReady(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      auto it = done_.find(written_);
      if (it == done_.end()) return;
      std::unique_ptr<Batch> b = std::move(it->second);
      done_.erase(it);
      lock.unlock();
      Write(*b);
      lock.lock();
      ++written_;
    }
  }

  void Write(const Batch& b) {
    if (!b.error_.empty()) totals_.errors.push_back(opt_.log_files[b.file_] + ": " + b.error_);
    out_ << b.output_;
    if (totals_.files.size() <= b.file_) totals_.files.resize(b.file_ + 1);
    totals_.files[b.file_].lines += b.parsed_;
    totals_.files[b.file_].parse_errors += b.parse_errors_;
    if (totals_.files[b.file_].first_parse_error == 0) {
      totals_.files[b.file_].first_parse_error = b.first_parse_error_;
    }
    totals_.files[b.file_].other_format += b.other_format_;
    totals_.files[b.file_].forwarded_clients += b.forwarded_clients_;
    totals_.files[b.file_].forwarded_unnamed += b.forwarded_unnamed_;
    if (totals_.files[b.file_].first_other_format == 0) {
      totals_.files[b.file_].first_other_format = b.first_other_format_;
    }
    for (const auto& [rule, n] : b.rule_hits_) totals_.per_rule[rule] += n;
    for (const auto& [type, n] : b.ioc_hits_) totals_.per_ioc_type[type] += n;
    totals_.alerts += b.alerts_;
    if (!b.feeds_.empty()) Correlate(b);
  }

  // Runs the batch's correlation feeds through the tracker, in the order the lines were read
  // (the writer sees every batch in that order, one at a time): a correlation fires on the line
  // that completes it, across batches and files alike.
  void Correlate(const Batch& b) {
    LineParser parser = b.NewParser();
    std::string out;
    int64_t latest = 0;
    for (const Batch::CorrelationFeed& feed : b.feeds_) {
      if (!parser.Parse(feed.line, &correlation_event_) &&
          !ParseInOtherFamily(feed.line, parser.format(), &correlation_event_)) {
        continue;
      }
      // As the matcher saw it, so that the correlation groups by the same client.
      if (!proxies_.proxies.empty()) AttributeToForwardedClient(proxies_, &correlation_event_);
      const int64_t at = correlation_event_.timestamp_millis();
      latest = std::max(latest, at);
      correlation_hits_.clear();
      for (const auto& [index, slot] : links_.feeds[feed.rule]) {
        if (!tracker_.NeedsWindowNote(index)) {
          tracker_.OnMatch(index, slot, correlation_event_, at, &correlation_hits_);
          continue;
        }
        // Its alert is written when the window closes: keep where this line is, and what the
        // alert prints of it (bounded, as a window is kept per key).
        WriteWindowNote(b.file_, feed.line_no, correlation_event_, &window_note_);
        const WindowNote note{window_note_, at};
        tracker_.OnMatch(index, slot, correlation_event_, at, &correlation_hits_, &note);
      }
      WriteCorrelationAlerts(b.file_, feed.line_no, correlation_event_, &out);
    }
    tracker_.Sweep(latest);
    // The log's own time: a key with no line for a whole timespan before the newest line of
    // this batch has its window decided here, beside the lines that closed it.
    correlation_hits_.clear();
    tracker_.CloseIdleWindows(latest, &correlation_hits_);
    WriteWindowAlerts(&out);
    out_ << out;
  }

  // The alerts of correlation_hits_ decided by the line at file:line_no (parsed into `ev`);
  // those decided at a window's end are written by WriteWindowAlerts.
  void WriteCorrelationAlerts(size_t file, uint64_t line_no, const Event& ev, std::string* out) {
    std::vector<CorrelationHit> window_hits;
    for (CorrelationHit& hit : correlation_hits_) {
      if (hit.at_window_end) {
        window_hits.push_back(std::move(hit));
        continue;
      }
      WriteCorrelationAlert(hit, file, line_no, ev, out);
    }
    correlation_hits_ = std::move(window_hits);
    WriteWindowAlerts(out);
  }

  // What a window keeps of its latest line: the file and line number, then what PrintAlert reads
  // of the event, each value length-prefixed ("-" when absent) and cut (the URL to what an alert
  // prints), so that an open window costs at most about 2.6 KiB.
  static void WriteWindowNote(size_t file, uint64_t line_no, const Event& ev, std::string* note) {
    note->clear();
    AppendNumber(file, note);
    note->push_back(' ');
    AppendNumber(line_no, note);
    note->push_back(' ');
    AppendNumber(static_cast<uint64_t>(ev.timestamp_millis() < 0 ? 0 : ev.timestamp_millis()),
                 note);
    note->push_back(' ');
    AppendNumber(static_cast<uint64_t>(ev.status_code() + 1), note);  // 0: none
    for (Field f : kWindowNoteFields) {
      note->push_back(' ');
      if (!ev.Has(f)) {
        note->push_back('-');
        continue;
      }
      const std::string_view value =
          ev.Get(f).substr(0, f == Field::kUrlOriginal ? kMaxUrlInAlert : kMaxShortValueInNote);
      AppendNumber(value.size(), note);
      note->push_back(':');
      note->append(value);
    }
  }

  // Reads WriteWindowNote's note back into `ev`, whose values then point into the note. False
  // when it is not such a note.
  static bool ReadWindowNote(std::string_view note, uint64_t* file, uint64_t* line_no, Event* ev) {
    auto number = [&](uint64_t* n) {
      auto [end, ec] = std::from_chars(note.data(), note.data() + note.size(), *n);
      if (ec != std::errc()) return false;
      note.remove_prefix(static_cast<size_t>(end - note.data()));
      if (!note.empty() && note.front() == ' ') note.remove_prefix(1);
      return true;
    };
    uint64_t at = 0;
    uint64_t status = 0;
    if (!number(file) || !number(line_no) || !number(&at) || !number(&status)) return false;
    ev->Clear();
    ev->set_timestamp_millis(static_cast<int64_t>(at));
    ev->set_status_code(static_cast<int>(status) - 1);
    for (Field f : kWindowNoteFields) {
      if (!note.empty() && note.front() == '-') {
        note.remove_prefix(std::min<size_t>(2, note.size()));
        continue;
      }
      uint64_t size = 0;
      auto [end, ec] = std::from_chars(note.data(), note.data() + note.size(), size);
      if (ec != std::errc() || end == note.data() + note.size() || *end != ':') return false;
      note.remove_prefix(static_cast<size_t>(end + 1 - note.data()));
      if (size > note.size()) return false;
      ev->Set(f, note.substr(0, size));
      note.remove_prefix(std::min<size_t>(size + 1, note.size()));
    }
    return true;
  }

  // Alerts of windows decided at their end (correlation_hits_): each is written at the last line
  // its window counted, from the note kept of it.
  void WriteWindowAlerts(std::string* out) {
    for (const CorrelationHit& hit : correlation_hits_) {
      uint64_t file = 0;
      uint64_t line_no = 0;
      if (!hit.at_window_end || !ReadWindowNote(hit.note, &file, &line_no, &window_event_) ||
          file >= opt_.log_files.size()) {
        continue;  // every window here was fed with a note (Correlate)
      }
      WriteCorrelationAlert(hit, static_cast<size_t>(file), line_no, window_event_, out);
    }
    correlation_hits_.clear();
  }

  // One correlation's alert at file:line_no, unless the correlation only feeds a chained one.
  void WriteCorrelationAlert(const CorrelationHit& hit, size_t file, uint64_t line_no,
                             const Event& ev, std::string* out) {
    const CorrelationRule& c = tracker_.rules()[hit.correlation];
    if (!c.alerts) return;
    Alert a{c.info.id.empty() ? std::string_view(c.info.title) : std::string_view(c.info.id),
            c.info.title, c.info.severity, &c.info.attack};
    a.correlation = &c;
    a.correlation_hit = &hit;
    PrintAlert(opt_, out, a, opt_.log_files[file], line_no, ev);
    ++totals_.alerts;
    ++totals_.per_correlation[hit.correlation];
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  const ScanOptions& opt_;
  const RuleSet& rules_;
  const LinkedCorrelations& links_;
  const IocStore& iocs_;
  int64_t now_;
  std::ostream& out_;
  const ProxyTrust& proxies_;
  // The writer's: correlations run where the batches meet in order.
  CorrelationTracker tracker_;
  Event correlation_event_;
  Event window_event_;  // a decided window's last line, as its note kept it
  std::vector<CorrelationHit> correlation_hits_;
  std::string window_note_;
  unsigned threads_ = 1;
  std::unique_ptr<BatchMatcher> inline_matcher_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::unique_ptr<Batch>> queue_;
  std::map<uint64_t, std::unique_ptr<Batch>> done_;
  bool stopping_ = false;
  uint64_t next_seq_ = 0;  // reader thread only
  uint64_t written_ = 0;   // under mu_ (or the caller's thread when inline)
  ScanTotals totals_;      // written by the writer (the caller's thread); worker CPU under mu_
};

}  // namespace

int RunScanCommand(const ScanOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  std::ostream& err = opt.err ? *opt.err : std::cerr;
  if (opt.output_format != "jsonl" && opt.output_format != "text") {
    err << "rampart scan: unknown --format '" << opt.output_format << "' (jsonl or text)\n";
    return 2;
  }
  auto log_format = LogFormatFromName(opt.log_format);
  std::optional<CustomLogFormat> layout;
  if (!log_format &&
      (opt.log_format.starts_with("nginx:") || opt.log_format.starts_with("apache:"))) {
    auto compiled = CustomLogFormat::Compile(opt.log_format);
    if (!compiled.ok()) {
      err << "rampart scan: --log-format: " << TerminalSafe(compiled.status().message()) << "\n";
      return 2;
    }
    layout.emplace(std::move(compiled).value());
    log_format = LogFormat::kCustom;
  }
  if (!log_format) {
    err << "rampart scan: unknown log format '" << TerminalSafe(opt.log_format)
        << "' (auto, common, combined, epmm, jsonl, nginx:FORMAT or apache:FORMAT)\n";
    return 2;
  }
  const CustomLogFormat* declared_layout = layout ? &*layout : nullptr;
  ProxyTrust proxies;
  for (const std::string& entry : opt.trusted_proxies) {
    auto proxy = ParseTrustedProxy(entry);
    if (!proxy.ok()) {
      err << "rampart scan: --trusted-proxy " << proxy.status().message() << "\n";
      return 2;
    }
    proxies.proxies.push_back(*proxy);
  }
  std::vector<std::string> dirs = opt.rule_dirs;
  if (dirs.empty() && !opt.default_rules_dir.empty()) dirs.push_back(opt.default_rules_dir);
  RuleSetBuilder builder;
  // Correlations need the live engine's windows; offline they are named, not evaluated.
  builder.set_keep_correlations(true);
  for (const auto& d : dirs) {
    Status s = builder.AddPath(d);
    if (!s.ok()) {
      err << "rampart scan: rules: " << TerminalSafe(s.message()) << "\n";
      return 2;
    }
  }
  auto compiled = builder.Build();
  if (!compiled.ok()) {
    err << "rampart scan: " << TerminalSafe(compiled.status().message()) << "\n";
    return 2;
  }
  const RuleSet& rules = **compiled;
  for (const auto& s : rules.skipped()) {
    err << "rampart scan: rule skipped: " << TerminalSafe(s.file) << ": " << TerminalSafe(s.reason)
        << "\n";
  }
  const LinkedCorrelations links = LinkCorrelations(rules, builder.correlations());
  for (const auto& s : links.skipped) {
    err << "rampart scan: correlation skipped: " << TerminalSafe(s.file) << ": "
        << TerminalSafe(s.reason) << "\n";
  }
  int64_t now = opt.now_millis != 0 ? opt.now_millis : SystemClock::Instance().NowMillis();
  IocStore iocs;
  for (const auto& f : opt.ioc_files) {
    // Expiry is weighed per line, at the line's time (above), not now: none is dropped here.
    auto r = ImportIocFile(f, /*now_millis=*/0, &iocs);
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
        if (auto line = r->first_line.find(reason); line != r->first_line.end()) {
          err << ", first at line " << line->second;
        }
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
  // Whether a --rules path loads the bundled directory: names it, or a directory above it (read
  // recursively).
  std::error_code bundled_ec;
  const std::filesystem::path bundled =
      opt.default_rules_dir.empty() ? std::filesystem::path()
                                    : std::filesystem::canonical(opt.default_rules_dir, bundled_ec);
  auto covers_bundled = [&](const std::string& path) {
    std::error_code ec;
    const std::filesystem::path given = std::filesystem::canonical(path, ec);
    if (ec) return false;
    return std::mismatch(given.begin(), given.end(), bundled.begin(), bundled.end()).first ==
           given.end();
  };
  if (!opt.rule_dirs.empty() && !bundled.empty() && !bundled_ec &&
      std::none_of(opt.rule_dirs.begin(), opt.rule_dirs.end(), covers_bundled)) {
    // --rules replaces the bundled EPMM rules rather than adding to them: say so, since a hunt
    // without them misses the exploit the product exists for.
    err << "rampart scan: the bundled rules (" << TerminalSafe(opt.default_rules_dir)
        << ") are not loaded: --rules names every rule source\n";
  }

  ScanPipeline pipeline(opt, rules, links, iocs, now, proxies, out);
  uint64_t total_lines = 0, too_long_lines = 0;
  int exit_code = 0;
  std::vector<std::pair<size_t, LogFormat>> scanned;  // index in opt.log_files, format
  auto start = std::chrono::steady_clock::now();
  double cpu_start = ThreadCpuSeconds();

  ProgressLine progress(err, opt.progress);
  for (size_t file = 0; file < opt.log_files.size(); ++file) {
    const std::string& path = opt.log_files[file];
    LineReader reader;
    if (Status opened = reader.Open(path); !opened.ok()) {
      err << "rampart scan: " << TerminalSafe(opened.message()) << "\n";
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
    scanned.emplace_back(file, format);
    auto batch = pipeline.NewBatch(file, format, declared_layout);
    uint64_t line_no = 0;
    std::string_view line;
    bool too_long = false;
    progress.StartFile(path, file, opt.log_files.size());
    while (reader.Next(&line, &too_long)) {
      ++line_no;
      progress.Lines(line_no, reader);
      if (too_long) {
        ++too_long_lines;
        progress.Clear();
        err << "rampart scan: " << path << ":" << line_no << ": line longer than " << kMaxLineBytes
            << " bytes skipped\n";
        continue;
      }
      if (line.empty() || (line.size() == 1 && line[0] == '\r')) continue;
      batch->Add(line, line_no);
      if (batch->full()) {
        pipeline.Submit(std::move(batch));
        batch = pipeline.NewBatch(file, format, declared_layout);
      }
    }
    pipeline.Submit(std::move(batch));
    progress.EndFile();
    if (reader.error()) {
      err << "rampart scan: " << path << ": read error after line " << line_no;
      if (reader.kind() == "plain") {
        err << " (the file cannot be read)\n";
      } else {
        err << " (the file ends inside its " << reader.kind()
            << " stream, is damaged, or cannot be read)\n";
      }
      exit_code = 1;
    }
    total_lines += line_no;
  }
  ScanTotals totals = pipeline.Finish(opt.log_files.size());
  for (const std::string& e : totals.errors) {
    err << "rampart scan: " << e << "\n";
    exit_code = 1;
  }
  for (const auto& [file, format] : scanned) {
    const FileTotals& f = totals.files[file];
    if (f.other_format > 0) {
      err << "rampart scan: " << opt.log_files[file] << ": " << f.other_format << " of " << f.lines
          << " lines read as " << (format == LogFormat::kJsonLines ? "an access log" : "JSON lines")
          << ", not " << LogFormatName(format) << " (first at line " << f.first_other_format
          << ")\n";
    }
    if (f.forwarded_clients + f.forwarded_unnamed > 0) {
      err << "rampart scan: " << opt.log_files[file] << ": "
          << f.forwarded_clients + f.forwarded_unnamed << " lines from trusted proxies, "
          << f.forwarded_clients << " attributed to the client they forwarded, "
          << f.forwarded_unnamed << " naming no client (left as the proxy's)\n";
    }
    if (f.parse_errors > 0) {
      err << "rampart scan: " << opt.log_files[file] << ": " << f.parse_errors << " of " << f.lines
          << " lines not in "
          << (format == LogFormat::kCustom ? std::string("the --log-format layout")
                                           : std::string(LogFormatName(format)) + " format")
          << " (first at line " << f.first_parse_error << ")\n";
    }
  }
  uint64_t parse_errors = too_long_lines;
  for (const FileTotals& f : totals.files) parse_errors += f.parse_errors;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.flush();
  err << "rampart scan: " << total_lines << " lines in " << secs << " s ("
      << static_cast<uint64_t>(secs > 0 ? static_cast<double>(total_lines) / secs : 0)
      << " lines/s), " << parse_errors << " parse errors, " << totals.alerts << " alerts\n";
  // On a shared machine the wall time includes waiting for a core, and with several matching
  // threads it is not a one-core figure: the CPU time of every thread is.
  double cpu = ThreadCpuSeconds() - cpu_start + totals.worker_cpu_seconds;
  err << "rampart scan: " << cpu << " s of CPU on " << pipeline.threads() << " matching thread"
      << (pipeline.threads() == 1 ? "" : "s") << " and the reader ("
      << static_cast<uint64_t>(cpu > 0 ? static_cast<double>(total_lines) / cpu : 0)
      << " lines per CPU second)\n";
  const std::vector<uint64_t>& per_rule = totals.per_rule;
  const std::map<std::string, uint64_t>& per_ioc_type = totals.per_ioc_type;
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < per_rule.size(); ++i) {
    if (per_rule[i] > 0) order.emplace_back(per_rule[i], i);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a > b; });
  for (const auto& [n, i] : order) {
    err << "  " << n << "\t" << TerminalSafe(rules.rule(i).severity) << "\t"
        << TerminalSafe(rules.rule(i).title) << "\n";
  }
  for (size_t i = 0; i < totals.per_correlation.size(); ++i) {
    if (totals.per_correlation[i] == 0) continue;
    const RuleInfo& c = links.rules[i].info;
    err << "  " << totals.per_correlation[i] << "\t" << TerminalSafe(c.severity) << "\t"
        << TerminalSafe(c.title) << " (correlation)\n";
  }
  for (const auto& [type, n] : per_ioc_type) err << "  " << n << "\tIoC " << type << "\n";
  return exit_code;
}

int RunRulesCheckCommand(const RulesCheckOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  RuleSetBuilder builder;
  builder.set_keep_correlations(true);
  for (const auto& d : opt.rule_dirs) {
    Status s = builder.AddPath(d);
    if (!s.ok()) {
      out << "error: " << TerminalSafe(s.message()) << "\n";
      return 2;
    }
  }
  auto compiled = builder.Build();
  if (!compiled.ok()) {
    out << "error: " << TerminalSafe(compiled.status().message()) << "\n";
    return 2;
  }
  const RuleSet& rules = **compiled;
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  for (size_t i = 0; i < rules.size(); ++i) {
    rows.emplace_back(TerminalSafe(rules.rule(i).file), "loaded",
                      TerminalSafe(rules.rule(i).title));
  }
  for (const auto& s : rules.skipped()) {
    rows.emplace_back(TerminalSafe(s.file), "skipped",
                      TerminalSafe((s.title.empty() ? "" : s.title + ": ") + s.reason));
  }
  // Correlation rules: parsed, and every rule they name must be loaded.
  LinkedCorrelations linked = LinkCorrelations(rules, builder.correlations());
  const size_t correlations = linked.rules.size(), bad_correlations = linked.skipped.size();
  for (const CorrelationRule& c : linked.rules) {
    rows.emplace_back(
        TerminalSafe(c.info.file), "loaded",
        TerminalSafe(c.info.title + " (" + std::string(CorrelationTypeName(c.type)) + ")"));
  }
  for (const SkippedRule& c : linked.skipped) {
    rows.emplace_back(TerminalSafe(c.file), "skipped", TerminalSafe(c.reason));
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [file, status, text] : rows) {
    out << status << "\t" << file << "\t" << text << "\n";
  }
  out << rules.size() + correlations << " loaded, " << rules.skipped().size() + bad_correlations
      << " skipped (" << correlations << " correlations, " << rules.vectorscan_matchers()
      << " Vectorscan matchers, " << rules.fallback_matchers() << " evaluated in C++)\n";
  out << "Vectorscan scans with " << HsScanMode() << "\n";
  return rules.skipped().empty() && bad_correlations == 0 ? 0 : 1;
}

namespace internal {
namespace {

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f M", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1f k", per_second / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  }
  return buf;
}

std::string Duration(double seconds) {
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

}  // namespace

std::string RenderProgress(const ScanProgress& p, size_t width) {
  constexpr size_t kBar = 20;
  std::string head, tail;
  const bool sized = p.bytes_total > 0;
  if (sized) {
    const double done =
        std::min(1.0, static_cast<double>(p.bytes_read) / static_cast<double>(p.bytes_total));
    const auto filled = static_cast<size_t>(done * kBar);
    head = "[" + std::string(filled, '#') + std::string(kBar - filled, '-') + "] ";
    std::string percent = std::to_string(static_cast<int>(done * 100));
    head += std::string(3 - std::min<size_t>(3, percent.size()), ' ') + percent + "%  ";
  }
  tail = "  " + WithThousands(p.lines) + " lines";
  if (p.seconds > 0) {
    tail += "  " + Rate(static_cast<double>(p.lines) / p.seconds) + " lines/s";
  }
  if (sized && p.seconds >= 0.5 && p.bytes_read > 0 && p.bytes_read < p.bytes_total) {
    const double left = p.seconds * static_cast<double>(p.bytes_total - p.bytes_read) /
                        static_cast<double>(p.bytes_read);
    tail += "  ETA " + Duration(left);
  }
  std::string file(p.file);
  if (p.file_count > 1) {
    file += " (" + std::to_string(p.file_index + 1) + "/" + std::to_string(p.file_count) + ")";
  }
  // The file name gives way first, from the left (its end tells files apart), then the rest.
  const size_t fixed = head.size() + tail.size();
  if (fixed + file.size() > width && width > fixed + 3) {
    file = "..." + file.substr(file.size() - (width - fixed - 3));
  } else if (fixed + file.size() > width) {
    file.clear();
  }
  std::string line = head + file + tail;
  if (line.size() > width) line.resize(width);
  return line;
}

}  // namespace internal

}  // namespace rampart::detect
