// One of our own binaries run as a child process: fork + execv, never a shell. The breach demo
// (server/demo_breach.h) runs `rampart admin`, `rampart serve` and `rampart-agent simulate` this
// way, reading what each prints on stdout and sending each stderr to a log file.
//
//   auto serve = ChildProcess::Start({"/usr/bin/rampart", "serve", ...}, "/tmp/x/serve.log");
//   auto line = (*serve)->ReadLineStartingWith("rampart listening on ", std::chrono::seconds(60));
//
// The child asks the kernel for SIGTERM when its parent dies, so nothing outlives a demo that
// crashed; the kernel ties that to the thread that called Start, so call it from a thread that
// lives as long as the child should. Not thread-safe: one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::server {

class ChildProcess {
 public:
  // argv[0] is the path of the program. stderr_path is created (0600) or truncated.
  // Unavailable when the process cannot be started.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& stderr_path);
  ~ChildProcess();  // SIGTERM, a grace period, then SIGKILL
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a complete line starting with `prefix` arrives and returns the rest of
  // that line. Unavailable when stdout ends first or the timeout passes; the lines read so far
  // stay in printed().
  Result<std::string> ReadLineStartingWith(std::string_view prefix,
                                           std::chrono::milliseconds timeout);

  // Waits for the exit (after SIGTERM when `terminate`), reading stdout to its end. Returns the
  // exit code; Unavailable when the process had to be killed after `timeout`.
  Result<int> Finish(bool terminate, std::chrono::milliseconds timeout);

  // False once the process has exited; Finish then still returns its exit code.
  bool Running();

  // Everything read from stdout so far.
  const std::string& printed() const { return printed_; }
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  // Reads what is available within `wait`; false once stdout is closed.
  bool ReadSome(std::chrono::milliseconds wait);

  pid_t pid_;
  int out_fd_;
  int exit_status_ = -1;  // waitpid status once reaped by Running, else -1
  size_t consumed_ = 0;   // bytes of printed_ already handed out by ReadLineStartingWith
  std::string printed_;
};

// The directory holding the running binary (/proc/self/exe): `rampart` and `rampart-agent` are
// built and installed side by side.
Result<std::string> OwnBinaryDir();

}  // namespace rampart::server
