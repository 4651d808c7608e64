// libFuzzer target: the YAML configuration reader on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rampart::Config config;
  (void)rampart::ApplyConfigYaml(std::string(reinterpret_cast<const char*>(data), size), &config);
  std::string host;
  uint16_t port = 0;
  (void)rampart::ParseHostPort(std::string(reinterpret_cast<const char*>(data), size), &host,
                               &port);
  return 0;
}
