#include "keeper/socket_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "keeper/protocol.h"
#include "keeper/socket_io.h"

namespace rampart::keeper {

class SocketServer::Impl {
 public:
  Keeper* keeper = nullptr;
  SocketServerOptions options;
  int listen_fd = -1;
  int wake_pipe[2] = {-1, -1};
  std::thread acceptor;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> malformed{0};
  std::atomic<int64_t> refused{0};

  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex mu;
  std::list<Connection> connections;

  void AcceptLoop() {
    while (!stopping.load()) {
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
      int n = ::poll(fds, 2, 1000);
      if (n < 0 && errno != EINTR) break;
      Reap();
      if (stopping.load()) break;
      if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      // Only processes of the keeper's own user may talk to it (the socket file is 0600 too;
      // this also holds if someone loosens the directory).
      ucred cred{};
      socklen_t len = sizeof(cred);
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid()) {
        refused.fetch_add(1);
        log::Warn("keeper.peer_refused", {{"uid", static_cast<int64_t>(cred.uid)}});
        ::close(fd);
        continue;
      }
      std::lock_guard lock(mu);
      if (static_cast<int>(connections.size()) >= options.max_connections) {
        ::close(fd);
        continue;
      }
      Connection& c = connections.emplace_back();
      c.fd = fd;
      c.thread = std::thread([this, &c] { Serve(c); });
    }
  }

  void Serve(Connection& c) {
    std::string request;
    while (!stopping.load()) {
      Status read = ReadFrame(c.fd, &request);
      if (!read.ok()) {
        if (read.code() == Code::kInvalidArgument) {
          malformed.fetch_add(1);
          log::Warn("keeper.malformed_frame", {{"error", read.message()}});
          WriteFrame(c.fd, R"({"code":"invalid_argument","error":"frame too large","ok":false})")
              .IgnoreError();
        }
        break;
      }
      bool bad = false;
      std::string answer = HandleRequest(*keeper, request, &bad);
      if (bad) {
        malformed.fetch_add(1);
        log::Warn("keeper.malformed_request", {{"total", malformed.load()}});
      }
      if (!WriteFrame(c.fd, answer).ok()) break;
    }
    c.done.store(true);
  }

  // Joins finished connection threads.
  void Reap() {
    std::lock_guard lock(mu);
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done.load()) {
        it->thread.join();
        ::close(it->fd);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Stop() {
    if (stopping.exchange(true)) return;
    if (wake_pipe[1] >= 0) {
      char b = 1;
      [[maybe_unused]] ssize_t ignored = ::write(wake_pipe[1], &b, 1);
    }
    if (acceptor.joinable()) acceptor.join();
    {
      std::lock_guard lock(mu);
      for (auto& c : connections) ::shutdown(c.fd, SHUT_RDWR);
    }
    for (auto& c : connections) {
      if (c.thread.joinable()) c.thread.join();
      ::close(c.fd);
    }
    connections.clear();
    if (listen_fd >= 0) {
      ::close(listen_fd);
      ::unlink(options.path.c_str());
    }
    for (int fd : wake_pipe) {
      if (fd >= 0) ::close(fd);
    }
    listen_fd = -1;
    wake_pipe[0] = wake_pipe[1] = -1;
  }
};

SocketServer::SocketServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SocketServer::~SocketServer() {
  Stop();
}

Result<std::unique_ptr<SocketServer>> SocketServer::Start(Keeper* keeper,
                                                          SocketServerOptions options) {
  sockaddr_un addr{};
  if (options.path.empty() || options.path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("keeper socket path is empty or too long");
  }
  auto impl = std::make_unique<Impl>();
  impl->keeper = keeper;
  impl->options = std::move(options);
  const std::string& path = impl->options.path;
  // A socket file left by a keeper that died is replaced; anything else at the path is not.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::InvalidArgument(path + " exists and is no socket");
    ::unlink(path.c_str());
  }
  impl->listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (impl->listen_fd < 0) return Status::Internal("cannot create keeper socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  mode_t old_mask = ::umask(077);
  int bound = ::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old_mask);
  if (bound != 0) {
    ::close(impl->listen_fd);
    return Status::Internal("cannot bind keeper socket " + path + ": " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(impl->listen_fd, 64) != 0 ||
      ::pipe2(impl->wake_pipe, O_CLOEXEC) != 0) {
    ::close(impl->listen_fd);
    ::unlink(path.c_str());
    return Status::Internal("cannot listen on keeper socket " + path);
  }
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<SocketServer>(new SocketServer(std::move(impl)));
}

void SocketServer::Stop() {
  impl_->Stop();
}

int64_t SocketServer::malformed_requests() const {
  return impl_->malformed.load();
}

int64_t SocketServer::refused_peers() const {
  return impl_->refused.load();
}

}  // namespace rampart::keeper
