// End-to-end test harness: runs the real binaries (build/bin/rampart, build/bin/rampart-agent)
// as child processes without a shell, on 127.0.0.1 with a port the server picks itself, and
// talks to the server over HTTPS with the CA it created, as a client would.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "http/client.h"

extern char** environ;

namespace rampart::e2e {

namespace fs = std::filesystem;
using nlohmann::json;

inline const std::string kRampart = std::string(RAMPART_BINARY_DIR) + "/bin/rampart";
inline const std::string kAgent = std::string(RAMPART_BINARY_DIR) + "/bin/rampart-agent";

struct ProcResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// Runs a program to completion, capturing stdout and stderr.
inline ProcResult Run(const std::vector<std::string>& args) {
  ProcResult r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  auto argv = Argv(args);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = "cannot start " + args[0];
    return r;
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Children of `parent`, from /proc (the keeper serve started).
inline std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile("/proc/" + name + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  ::closedir(proc);
  return out;
}

// Whether `pid` has exited: gone, or a zombie its parent has not reaped yet (which holds no
// file, lock or socket any more).
inline bool ProcessGone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t state = stat.rfind(')');
  return ::kill(pid, 0) != 0 ||
         (state != std::string::npos && state + 2 < stat.size() && stat[state + 2] == 'Z');
}

// `rampart serve` as a child process. Start() reads stdout until the server names its address
// (everything printed before it, such as the --demo tokens, is kept in printed()).
class ServerProcess {
 public:
  ~ServerProcess() { Stop(); }

  bool Start(const std::string& data_dir, const std::vector<std::string>& extra_args,
             std::string* error) {
    printed_.clear();  // a restart prints (and listens) anew
    url_.clear();
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    log_path_ = data_dir + ".server.log";
    posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> args = {kRampart, "serve",    "--data",
                                     data_dir, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto argv = Argv(args);
    int rc = posix_spawn(&pid_, kRampart.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      *error = "cannot start " + kRampart;
      return false;
    }
    out_fd_ = out[0];
    const std::string marker = "rampart listening on ";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[1024];
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      printed_.append(buf, static_cast<size_t>(n));
      auto at = printed_.find(marker);
      if (at != std::string::npos) {
        auto eol = printed_.find('\n', at);
        if (eol == std::string::npos) continue;
        url_ = printed_.substr(at + marker.size(), eol - at - marker.size());
        return true;
      }
    }
    *error = "server did not report its address; stdout: " + printed_ +
             "; stderr: " + ReadFile(log_path_);
    return false;
  }

  // SIGTERM, then waits for a graceful exit; returns the exit code (-1 if it had to be killed).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    exit_code_ = -1;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        status = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (status != -1 && WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
    pid_ = -1;
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    return exit_code_;
  }

  // SIGKILL, as a crash or an out-of-memory kill would end it: nothing of serve's shutdown
  // runs. Returns once serve is reaped and its keeper (ended by its parent-death signal) has
  // exited too, so that a restart on the same data finds the keeper's lock free.
  void Kill() {
    if (pid_ <= 0) return;
    const std::vector<pid_t> children = ChildrenOf(pid_);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_code_ = -1;
    pid_ = -1;
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    for (pid_t child : children) {
      for (int i = 0; i < 500 && !ProcessGone(child); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  const std::string& printed() const { return printed_; }
  std::string log() const { return ReadFile(log_path_); }
  // A line "label:   value" printed before the address (the --demo tokens).
  std::string PrintedValue(const std::string& label) const {
    size_t at = printed_.rfind("\n" + label) != std::string::npos
                    ? printed_.rfind("\n" + label) + 1
                    : (printed_.rfind(label, 0) == 0 ? 0 : std::string::npos);
    if (at == std::string::npos) return "";
    auto eol = printed_.find('\n', at);
    std::string line = printed_.substr(at + label.size(), eol - at - label.size());
    auto start = line.find_first_not_of(" :");
    line = start == std::string::npos ? "" : line.substr(start);
    auto space = line.find(' ');
    return space == std::string::npos ? line : line.substr(0, space);
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_code_ = -1;
  std::string url_;
  std::string printed_;
  std::string log_path_;
};

struct ApiReply {
  int status = 0;
  json body;
  std::string raw;
};

// One admin API call over a fresh HTTPS connection pinned to the server's CA.
inline ApiReply CallApi(const std::string& url, const std::string& ca, const std::string& token,
                        const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::string& content_type = "application/json") {
  ApiReply reply;
  auto client = http::HttpClient::Connect({.url = url, .ca_file = ca});
  if (!client.ok()) {
    reply.raw = client.status().ToString();
    return reply;
  }
  http::HeaderList headers;
  if (!token.empty()) headers.emplace_back("authorization", "Bearer " + token);
  if (!body.empty()) headers.emplace_back("content-type", content_type);
  auto r = (*client)->Send(method, target, headers, body);
  if (!r.ok()) {
    reply.raw = r.status().ToString();
    return reply;
  }
  reply.status = r->status;
  reply.raw = r->body;
  reply.body = json::parse(r->body, nullptr, false);
  return reply;
}

// `rampart serve --demo --config CONFIG` on a data directory, with the CA file and the demo
// tokens it printed.
struct DemoServer {
  ServerProcess process;
  std::string ca;
  std::string superadmin;
  std::string admin;
  // False, with *error, when the server did not start or printed no superadmin token.
  bool Start(const std::string& data, const std::string& config, std::string* error) {
    if (!process.Start(data, {"--demo", "--config", config}, error)) return false;
    ca = data + "/tls/ca.pem";
    superadmin = process.PrintedValue("superadmin token");
    admin = process.PrintedValue("admin token");
    if (superadmin.empty()) *error = "no superadmin token printed:\n" + process.printed();
    return !superadmin.empty();
  }
};

// The alerts of one rule, through the API, as the demo's superadmin.
inline json AlertsOf(DemoServer& demo, const std::string& rule) {
  ApiReply list =
      CallApi(demo.process.url(), demo.ca, demo.superadmin, "GET", "/api/v1/alerts?rule=" + rule);
  EXPECT_EQ(list.status, 200) << list.raw;
  return list.body["items"];
}

// Waits until the rule has an alert (the engine stores it after the response went out, or after
// a followed line was read), for up to `seconds`.
inline bool WaitForAlert(DemoServer& demo, const std::string& rule, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!AlertsOf(demo, rule).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The CVE-2026-1281 fob-injection probe of the January 2026 attack: one unauthenticated request
// the bundled rules turn into a critical server-wide alert (and incident) about its source.
inline const std::string kFobInjectionProbe =
    "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,"
    "h=gPath%60bash%20-c%20id%60/e2c3f9dd.ipa";

// A fresh directory under the system temporary directory, named after the test.
inline fs::path FreshTestDir(const std::string& prefix) {
  fs::path dir = fs::temp_directory_path() / (prefix + "_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  return dir;
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Polls GET /api/v1/incidents{query} until an incident about `entity` is listed, for up to 30 s
// (the engine thread opens it after the triggering response went out). Its summary, or null.
inline json WaitForIncident(const std::string& url, const std::string& ca, const std::string& token,
                            const std::string& entity, const std::string& query = "") {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    ApiReply list = CallApi(url, ca, token, "GET", "/api/v1/incidents" + query);
    if (list.status != 200) return nullptr;
    for (const auto& i : list.body["items"]) {
      if (i["entity"] == entity) return i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return nullptr;
}

}  // namespace rampart::e2e
