#include "detect/log_file_source.h"

#include <fcntl.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace rampart::detect {
namespace {

class GzipSource final : public LogFileSource {
 public:
  GzipSource(gzFile file, uint64_t size) : file_(file) {
    size_ = size;
    gzbuffer(file_, 1 << 17);
  }
  ~GzipSource() override { gzclose(file_); }

  int Read(char* out, size_t capacity) override {
    return gzread(file_, out, static_cast<unsigned>(capacity));
  }
  // zlib reports a gzip file cut short as an ordinary end of file; only gzerror tells.
  bool EndedMidStream() const override {
    int code = Z_OK;
    gzerror(file_, &code);
    return code == Z_BUF_ERROR;
  }
  uint64_t raw_offset() const override {
    z_off_t at = gzoffset(file_);
    return at < 0 ? 0 : static_cast<uint64_t>(at);
  }
  // zlib reads a file without the gzip header through unchanged ("direct"); known once read.
  std::string_view kind() const override { return gzdirect(file_) ? "plain" : "gzip"; }

 private:
  gzFile file_;
};

class XzSource final : public LogFileSource {
 public:
  XzSource(int fd, uint64_t size) : fd_(fd), in_(1 << 16) { size_ = size; }
  ~XzSource() override {
    lzma_end(&stream_);
    ::close(fd_);
  }

  bool Start() {
    // `xz -9` wants 64 MiB to decode; a file that asks for more than 1 GiB is refused (a read
    // error) rather than let a crafted header take the machine's memory.
    constexpr uint64_t kMemoryLimit = uint64_t{1} << 30;
    return lzma_stream_decoder(&stream_, kMemoryLimit, LZMA_CONCATENATED) == LZMA_OK;
  }

  int Read(char* out, size_t capacity) override {
    if (done_) return 0;
    stream_.next_out = reinterpret_cast<uint8_t*>(out);
    stream_.avail_out = capacity;
    while (stream_.avail_out == capacity) {
      if (stream_.avail_in == 0 && !input_ended_) {
        ssize_t n = ::read(fd_, in_.data(), in_.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          return -1;
        }
        if (n == 0) input_ended_ = true;
        consumed_ += static_cast<uint64_t>(n);
        stream_.next_in = in_.data();
        stream_.avail_in = static_cast<size_t>(n);
      }
      lzma_ret rc = lzma_code(&stream_, input_ended_ ? LZMA_FINISH : LZMA_RUN);
      if (rc == LZMA_STREAM_END) {
        done_ = true;
        break;
      }
      if (rc == LZMA_BUF_ERROR && input_ended_) {
        // No progress possible and no more input: the stream was cut short.
        truncated_ = true;
        done_ = true;
        break;
      }
      if (rc != LZMA_OK) return -1;
    }
    return static_cast<int>(capacity - stream_.avail_out);
  }
  bool EndedMidStream() const override { return truncated_; }
  uint64_t raw_offset() const override { return consumed_ - stream_.avail_in; }
  std::string_view kind() const override { return "xz"; }

 private:
  int fd_;
  std::vector<uint8_t> in_;
  lzma_stream stream_ = LZMA_STREAM_INIT;
  uint64_t consumed_ = 0;
  bool input_ended_ = false;
  bool done_ = false;
  bool truncated_ = false;
};

enum class Magic { kGzipOrPlain, kXz, kBzip2, kZstd, kZip, kSevenZip };

Magic MagicOf(const unsigned char* head, size_t n) {
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    return n >= magic.size() && std::equal(magic.begin(), magic.end(), head);
  };
  if (starts({0xFD, '7', 'z', 'X', 'Z', 0x00})) return Magic::kXz;
  if (starts({'B', 'Z', 'h'}) && n >= 4 && head[3] >= '1' && head[3] <= '9') return Magic::kBzip2;
  if (starts({0x28, 0xB5, 0x2F, 0xFD})) return Magic::kZstd;
  if (starts({'P', 'K', 0x03, 0x04})) return Magic::kZip;
  if (starts({'7', 'z', 0xBC, 0xAF, 0x27, 0x1C})) return Magic::kSevenZip;
  return Magic::kGzipOrPlain;
}

Status Refused(const std::string& path, Magic magic) {
  struct Named {
    const char* what;
    const char* tool;
  };
  Named n = magic == Magic::kBzip2  ? Named{"bzip2", "bzip2 -dk FILE"}
            : magic == Magic::kZstd ? Named{"zstd", "zstd -d FILE"}
            : magic == Magic::kZip  ? Named{"zip", "unzip FILE"}
                                    : Named{"7-Zip", "7z x FILE"};
  return Status::InvalidArgument(path + ": compressed with " + n.what +
                                 ", which rampart scan does not read; decompress it first (" +
                                 n.tool + ")");
}

}  // namespace

Result<std::unique_ptr<LogFileSource>> LogFileSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::NotFound(path + ": cannot open: " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": is a directory, not a log file");
  }
  uint64_t size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  // Only a regular file can be peeked at and read again from its start; a pipe goes to
  // zlib, which reads gzip and plain text from it as they come.
  Magic magic = Magic::kGzipOrPlain;
  if (S_ISREG(st.st_mode)) {
    unsigned char head[8] = {};
    ssize_t n = ::pread(fd, head, sizeof(head), 0);
    if (n > 0) magic = MagicOf(head, static_cast<size_t>(n));
  }
  if (magic == Magic::kXz) {
    auto source = std::make_unique<XzSource>(fd, size);
    if (!source->Start()) return Status::Internal(path + ": cannot start the xz decoder");
    return std::unique_ptr<LogFileSource>(std::move(source));
  }
  if (magic != Magic::kGzipOrPlain) {
    ::close(fd);
    return Refused(path, magic);
  }
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    ::close(fd);
    return Status::Internal(path + ": cannot start the gzip reader");
  }
  return std::unique_ptr<LogFileSource>(std::make_unique<GzipSource>(file, size));
}

}  // namespace rampart::detect
