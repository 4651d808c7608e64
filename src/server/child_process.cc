#include "server/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <thread>

namespace rampart::server {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const std::string& stderr_path) {
  if (argv.empty()) return Status::InvalidArgument("no program to start");
  // Everything is prepared before fork: between fork and exec only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::Unavailable("cannot create a pipe");
  int err_fd =
      ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (err_fd < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Status::Unavailable("cannot create " + stderr_path);
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    ::close(err_fd);
    return Status::Unavailable("cannot fork");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    if (::dup2(out[1], STDOUT_FILENO) < 0 || ::dup2(err_fd, STDERR_FILENO) < 0) ::_exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0]));
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Finish(true, std::chrono::seconds(20)).status().IgnoreError();
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool ChildProcess::ReadSome(std::chrono::milliseconds wait) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (ready < 0) return errno == EINTR;
  if (ready == 0) return true;
  char buf[8192];
  ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n > 0) {
    printed_.append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  ::close(out_fd_);
  out_fd_ = -1;
  return false;
}

Result<std::string> ChildProcess::ReadLineStartingWith(std::string_view prefix,
                                                       std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (size_t eol; (eol = printed_.find('\n', consumed_)) != std::string::npos;) {
      std::string_view line(printed_.data() + consumed_, eol - consumed_);
      consumed_ = eol + 1;
      if (line.substr(0, prefix.size()) == prefix) return std::string(line.substr(prefix.size()));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    if (!ReadSome(std::min(left, std::chrono::milliseconds(200)))) break;
  }
  return Status::Unavailable("the child process did not print \"" + std::string(prefix) + "\"");
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_status_ != -1) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  exit_status_ = status;
  return false;
}

Result<int> ChildProcess::Finish(bool terminate, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Status::Internal("the child process was already finished");
  int status = exit_status_;
  if (terminate && status == -1) ::kill(pid_, SIGTERM);
  auto deadline = Clock::now() + timeout;
  while (status == -1) {
    // Reading keeps a child that prints a lot at the end from blocking on a full pipe.
    ReadSome(std::chrono::milliseconds(out_fd_ >= 0 ? 20 : 0));
    int reaped = 0;
    if (::waitpid(pid_, &reaped, WNOHANG) == pid_) {
      status = reaped;
      break;
    }
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return Status::Unavailable("the child process did not exit in time and was killed");
    }
    if (out_fd_ < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  while (ReadSome(std::chrono::milliseconds(0)) && out_fd_ >= 0) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

Result<std::string> OwnBinaryDir() {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return Status::Internal("cannot find the running binary");
  std::string exe(path, static_cast<size_t>(n));
  auto slash = exe.rfind('/');
  if (slash == std::string::npos) return Status::Internal("cannot find the running binary");
  return exe.substr(0, slash);
}

}  // namespace rampart::server
