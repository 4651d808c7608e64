// What the process logs (common/log.h) while a CapturedLog lives: the lines go to a private
// temporary file instead of where they went, from the info level up, for tests that check a
// line was logged (or how many times). One at a time: the log has one output.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "common/log.h"

namespace rampart::testing {

class CapturedLog {
 public:
  CapturedLog() {
    if (Live().exchange(true)) return;  // another is capturing: ok() is false
    char path[] = "/tmp/rampart_captured_log_XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0) {
      Live() = false;
      return;
    }
    path_ = path;
    previous_level_ = log::SetMinLevel(log::Level::kInfo);  // (some tests quieten the log)
    previous_fd_ = log::SetOutputFd(fd_);
  }
  ~CapturedLog() {
    Stop();
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  bool ok() const { return fd_ >= 0 || !path_.empty(); }

  // Everything logged so far; the log goes back to its output and level from before.
  std::string Stop() {
    if (fd_ >= 0) {
      log::SetOutputFd(previous_fd_);
      log::SetMinLevel(previous_level_);
      ::close(fd_);
      fd_ = -1;
      Live() = false;
      std::ifstream in(path_);
      std::stringstream text;
      text << in.rdbuf();
      text_ = text.str();
    }
    return text_;
  }

  // The lines logged for `event` ("incident.opened"); stops the capture.
  int Count(std::string_view event) {
    std::string key = "\"event\":\"" + std::string(event) + "\"";
    std::istringstream lines(Stop());
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(key) != std::string::npos;
    return n;
  }

 private:
  static std::atomic<bool>& Live() {
    static std::atomic<bool> live{false};
    return live;
  }

  int fd_ = -1;
  int previous_fd_ = 2;
  log::Level previous_level_ = log::Level::kInfo;
  std::string path_;
  std::string text_;
};

}  // namespace rampart::testing
