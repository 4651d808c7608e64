// The keeper as a process: `rampart keeper` (RunKeeper), and serve's way of starting one beside
// itself in the single-machine default (KeeperChild).
//
// The keeper owns DATA/keeper (keys.json and the audit log, mode 0700) and listens on a Unix
// socket (default DATA/run/keeper.sock). Serve only ever connects to the socket.
#pragma once

#include <sys/types.h>
#include <memory>
#include <string>

#include "common/status.h"

namespace rampart::server {

struct KeeperProcessOptions {
  std::string data_dir = "var";
  std::string socket_path;  // empty: DefaultKeeperSocket(data_dir)
  std::string config_file;  // optional YAML (the keeper: section applies)
};

std::string DefaultKeeperSocket(const std::string& data_dir);

// Runs the keeper until SIGINT/SIGTERM (or, when started by serve, until serve dies). Returns
// the process exit code.
int RunKeeper(const KeeperProcessOptions& options);

// A keeper child process of serve: started with this same binary, killed with serve (the child
// asks the kernel for SIGTERM when its parent dies) and stopped on destruction.
class KeeperChild {
 public:
  // Starts `rampart keeper` and waits (up to 15 s) until it answers on its socket.
  static Result<std::unique_ptr<KeeperChild>> Spawn(const KeeperProcessOptions& options);
  ~KeeperChild();  // SIGTERM, then waits for the exit
  KeeperChild(const KeeperChild&) = delete;
  KeeperChild& operator=(const KeeperChild&) = delete;
  pid_t pid() const { return pid_; }
  // False once the process has exited (reaps it).
  bool Alive();

 private:
  explicit KeeperChild(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

}  // namespace rampart::server
