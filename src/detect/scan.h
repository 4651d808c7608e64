// Offline hunting: `rampart scan` and `rampart rules check`, as functions the CLI calls with its
// parsed options (the CLI library stays out of this component).
//
//   ScanOptions opt;
//   opt.default_rules_dir = "/usr/share/rampart/rules";
//   opt.log_files = {"/var/log/apache2/access.log.1.gz"};
//   return RunScanCommand(opt);
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detect {

struct ScanOptions {
  // --rules DIR or FILE (repeatable). When empty, default_rules_dir is used.
  std::vector<std::string> rule_dirs;
  // The bundled rules (the caller knows where they are installed).
  std::string default_rules_dir;
  // --iocs FILE (repeatable): STIX 2.1 bundle, MISP event JSON or CSV.
  std::vector<std::string> ioc_files;
  // --format: "jsonl" (one JSON object per alert) or "text".
  std::string output_format = "jsonl";
  // --log-format: "auto" (per file, from its first lines), "common", "combined", "epmm", "jsonl",
  // or a layout of one's own for every file: "nginx:" + a log_format string or "apache:" + a
  // LogFormat string (detect/custom_log_format.h).
  std::string log_format = "auto";
  // --trusted-proxy ADDRESS|CIDR (repeatable): reverse proxies in front of the server that wrote
  // the logs. A line whose client is one of them and that logged X-Forwarded-For is attributed
  // to the client the header names (AttributeToForwardedClient in detect/log_parser.h).
  std::vector<std::string> trusted_proxies;
  // LOGFILE...: plain text, gzip or xz (detected from the content, not the name).
  std::vector<std::string> log_files;
  // Where alerts and the summary go; the CLI leaves the defaults (stdout, stderr).
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // Time that decides IoC expiry, in ms since the epoch; 0 means now.
  int64_t now_millis = 0;
  // Progress on stderr while scanning; the CLI sets it when stderr is a terminal.
  bool progress = false;
  // --threads: matching threads besides the reader; 0 means one per core. The output is the
  // same, in the same order, for any number.
  unsigned threads = 0;
};

// Prints one alert per matching (line, rule) and per IoC hit, then a summary on err (lines,
// seconds, lines/s, parse errors, alerts by rule). Returns 0 when every log file was scanned
// (whatever was found), 1 when a log file could not be read, 2 for unusable options (unknown
// format, no rules at all, an unreadable rules directory or IoC file).
int RunScanCommand(const ScanOptions& options);

struct RulesCheckOptions {
  std::vector<std::string> rule_dirs;
  std::ostream* out = nullptr;  // default stdout
};

// `rampart rules check PATH...` (directories or files): prints one row per rule file (loaded or
// skipped, title, reason) and a count. Returns 0 when every rule loaded, 1 when some were
// skipped, 2 when a path does not exist or a directory cannot be read.
int RunRulesCheckCommand(const RulesCheckOptions& options);

namespace internal {
// What the scan's progress line shows at one moment.
struct ScanProgress {
  std::string_view file;
  size_t file_index = 0;  // 0-based
  size_t file_count = 1;
  uint64_t bytes_read = 0;   // of the file as stored (compressed for .gz and .xz)
  uint64_t bytes_total = 0;  // 0 when unknown (a pipe)
  uint64_t lines = 0;        // of this file so far
  double seconds = 0;        // since this file was opened
};
// One terminal line, `width` columns at most: a bar and percentage when the size is known,
// then file (i/n), lines, lines/s and the time left, e.g.
// "[########------------]  42%  access.log (1/3)  1,234,567 lines  1.9 M lines/s  ETA 3 s".
std::string RenderProgress(const ScanProgress& p, size_t width);
}  // namespace internal

}  // namespace rampart::detect
