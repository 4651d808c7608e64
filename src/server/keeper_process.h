// The keeper as a process: `rampart keeper` (RunKeeper), and serve's way of starting one beside
// itself in the single-machine default (KeeperChild).
//
// The keeper owns DATA/keeper (keys.json and the audit log, mode 0700) and listens on a Unix
// socket (default DATA/run/keeper.sock). Serve only ever connects to the socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// `rampart keeper retire-master-key --keys DIR --version N`, on the keeper host with the keeper
// stopped: deletes an old staff-data master key version from DIR/keys.json and records it in
// DIR/audit. Never offered through serve (a compromised web tier could make rows unreadable).
// Refuses the current version and a running keeper. Returns the process exit code.
int RetireMasterKey(const std::string& key_dir, int64_t version);

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
