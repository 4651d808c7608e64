// Frame I/O on a connected Unix-domain stream socket (see keeper/protocol.h for the framing).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::keeper {

Status WriteFrame(int fd, std::string_view body);
// NotFound when the peer closed cleanly before a new frame; InvalidArgument for an oversized
// length; Unavailable for I/O errors and timeouts.
Status ReadFrame(int fd, std::string* body);

}  // namespace rampart::keeper
