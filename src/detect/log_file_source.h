// The bytes of a log file given to `rampart scan`, decompressed: plain and gzip files through
// zlib, xz files through liblzma. Rotated logs are compressed with either, and an analyst
// hunting in them should not have to unpack them first. Other compressions are refused by
// name rather than read as text (which would give a parse error per line and no alert).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::detect {

class LogFileSource {
 public:
  // NotFound when the file cannot be opened (the message holds the system's reason);
  // InvalidArgument for a directory or a compression that is not read.
  static Result<std::unique_ptr<LogFileSource>> Open(const std::string& path);

  virtual ~LogFileSource() = default;
  // Up to `capacity` decompressed bytes; 0 at the end, -1 on a read or decoding error.
  virtual int Read(char* out, size_t capacity) = 0;
  // After Read returned 0: whether the compressed stream stopped before its end (a file cut
  // short while it was copied or written).
  virtual bool EndedMidStream() const = 0;
  // Compressed bytes consumed so far, for progress against size().
  virtual uint64_t raw_offset() const = 0;
  // "gzip", "plain" or "xz", for messages (gzip or plain is known once something was read).
  virtual std::string_view kind() const = 0;

  // The file's size as stored; 0 when it is not a regular file (a pipe).
  uint64_t size() const { return size_; }

 protected:
  uint64_t size_ = 0;
};

}  // namespace rampart::detect
