// The keeper's Unix-domain socket front: accepts connections from processes of the same user,
// reads frames, answers each through HandleRequest.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "keeper/keeper.h"

namespace rampart::keeper {

struct SocketServerOptions {
  std::string path;          // the socket file; its directory should be 0700
  int max_connections = 64;  // further connections are closed at once
};

class SocketServer {
 public:
  // Binds (replacing a stale socket file), chmods it 0600 and starts accepting.
  static Result<std::unique_ptr<SocketServer>> Start(Keeper* keeper, SocketServerOptions options);
  ~SocketServer();  // Stop()s
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  void Stop();
  // Requests refused as malformed (not parsable, unknown op, oversized frame): a sign that
  // something other than serve talks to the keeper, or a compromised serve probing it.
  int64_t malformed_requests() const;
  int64_t refused_peers() const;  // connections from another user

 private:
  class Impl;
  explicit SocketServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::keeper
