// What the process logs (common/log.h) while a CapturedLog lives: the lines go to a private
// temporary file instead of stderr, from the info level up, for tests that check a line was
// logged (or how many times).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "common/log.h"

namespace rampart::testing {

class CapturedLog {
 public:
  CapturedLog() {
    char path[] = "/tmp/rampart_captured_log_XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0) return;
    path_ = path;
    log::SetMinLevel(log::Level::kInfo);  // (some tests quieten the log)
    log::SetOutputFd(fd_);
  }
  ~CapturedLog() {
    Stop();
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Everything logged so far; logging goes back to stderr.
  std::string Stop() {
    if (fd_ >= 0) {
      log::SetOutputFd(2);
      ::close(fd_);
      fd_ = -1;
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
  int fd_ = -1;
  std::string path_;
  std::string text_;
};

}  // namespace rampart::testing
