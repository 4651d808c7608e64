#include "keeper/socket_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "keeper/protocol.h"

namespace rampart::keeper {
namespace {

// MSG_NOSIGNAL: a peer that went away must not kill the process with SIGPIPE.
Status WriteAll(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("keeper socket write failed");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Returns the number of bytes read before EOF (< size only at EOF).
Result<size_t> ReadAll(int fd, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::recv(fd, data + done, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable("keeper socket read failed or timed out");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Status WriteFrame(int fd, std::string_view body) {
  if (body.size() > kMaxFrameBytes) return Status::PayloadTooLarge("keeper frame too large");
  auto n = static_cast<uint32_t>(body.size());
  char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
  RAMPART_RETURN_IF_ERROR(WriteAll(fd, header, sizeof(header)));
  return WriteAll(fd, body.data(), body.size());
}

Status ReadFrame(int fd, std::string* body) {
  unsigned char header[4];
  RAMPART_ASSIGN_OR_RETURN(size_t got, ReadAll(fd, reinterpret_cast<char*>(header), 4));
  if (got == 0) return Status::NotFound("peer closed the connection");
  if (got < 4) return Status::Unavailable("keeper frame header cut short");
  uint32_t n = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
               (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (n > kMaxFrameBytes) return Status::InvalidArgument("keeper frame larger than the limit");
  body->resize(n);
  RAMPART_ASSIGN_OR_RETURN(got, ReadAll(fd, body->data(), n));
  if (got < n) return Status::Unavailable("keeper frame cut short");
  return Status::Ok();
}

}  // namespace rampart::keeper
