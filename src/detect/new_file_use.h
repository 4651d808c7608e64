// Built-in detector "requests to files that appeared after the baseline". Sigma cannot express
// it: it joins the file-integrity monitor's `file.created` events with later HTTP requests by
// path, across event sources and for days.
//
//   rampart-new-script-called (critical, T1505.003, T1190): a request with parameters (a query,
//     or a POST) to a server-side script created after the baseline: the /mifs/403.jsp webshell
//     of the EPMM intrusion, under whatever name the next intruder picks.
//   rampart-new-file-large-download (high, T1074.001, T1041): a response of at least
//     large_response_bytes for a file created after the baseline: data staged as a static file
//     in the web root and fetched.
//
//   NewFileUseDetector detector(NewFileUseOptions{});
//   detector.FileCreated("/opt/epmm/webapps/mifs/403.jsp", ts_ms);
//   NewFileUse use = detector.Request("/mifs/403.jsp", /*parameters=*/true, 812, ts_ms);
//   if (use.kind == NewFileUse::Kind::kScriptCalled) ... use.file names the file
//
// A request reaches a file when its URL path ends the file's path ("/mifs/403.jsp" reaches
// ".../webapps/mifs/403.jsp"), so no web root needs configuring. Memory is bounded: files are
// forgotten after remember_millis, or the oldest first past max_files. Not thread-safe: the
// engine thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rampart::detect {

struct NewFileUseOptions {
  bool enabled = true;
  int64_t remember_millis = int64_t{7} * 24 * 3600 * 1000;
  size_t max_files = 10000;
  uint64_t large_response_bytes = 1 << 20;
  // Lower case, no dot: what an application server or a CGI runs rather than serves.
  std::vector<std::string> script_extensions = {"jsp",  "jspx", "jspf", "php", "phtml", "asp",
                                                "aspx", "ashx", "cgi",  "pl",  "py",    "sh"};
};

struct NewFileUse {
  enum class Kind { kNone, kScriptCalled, kLargeDownload };
  Kind kind = Kind::kNone;
  std::string file;  // the created file the request reached
};

class NewFileUseDetector {
 public:
  explicit NewFileUseDetector(NewFileUseOptions options);

  void FileCreated(std::string_view path, int64_t now_millis);
  void FileDeleted(std::string_view path);
  // `url_path` as requested (percent-decoded when the event has a decoded form; empty and "."
  // segments, ".." and ";" path parameters are resolved as a server would); `parameters`: a
  // non-empty query or a POST; `response_bytes`: the body size, 0 when unknown. `now_millis`
  // is the engine's clock (forgetting), not the event's time, which a sender chooses.
  NewFileUse Request(std::string_view url_path, bool parameters, uint64_t response_bytes,
                     int64_t now_millis);

  size_t files() const { return created_.size(); }
  size_t bookkeeping_entries() const { return order_.size(); }  // bounded by ~2 × files()
  const NewFileUseOptions& options() const { return options_; }

 private:
  struct Created {
    int64_t at;
    uint64_t generation;  // tells a path's current creation from earlier ones
  };
  struct Entry {
    std::string path;
    int64_t at;
    uint64_t generation;
  };
  void Forget(int64_t now_millis);
  bool IsScript(std::string_view path) const;
  bool Current(const Entry& e) const;

  NewFileUseOptions options_;
  // Path → its creation; by last path component for the lookup; creation order for forgetting
  // (entries whose path was deleted or created again since are stale and skipped).
  std::unordered_map<std::string, Created> created_;
  std::unordered_map<std::string, std::vector<std::string>> by_name_;
  std::deque<Entry> order_;
  uint64_t generation_ = 0;
};

}  // namespace rampart::detect
