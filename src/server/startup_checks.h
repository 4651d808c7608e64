// What `rampart serve` reads and checks in its configuration before it starts anything, in one
// place, so that `rampart config check` (config_check.h) judges a configuration exactly as the
// server would.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/forwarded.h"
#include "common/status.h"
#include "detect/custom_log_format.h"
#include "respond/playbook.h"

namespace rampart::server {

// The declared log layouts of one configuration key (detect/custom_log_format.h), compiled; the
// error names the entry, so that the server does not start with a layout it cannot read.
template <typename LayoutMap>
Status CompileLayouts(const std::map<std::string, std::string>& specs, LayoutMap* out) {
  for (const auto& [name, spec] : specs) {
    auto layout = detect::CustomLogFormat::Compile(spec);
    if (!layout.ok()) return Status::InvalidArgument(name + ": " + layout.status().message());
    (*out)[name] = std::make_shared<const detect::CustomLogFormat>(std::move(layout).value());
  }
  return Status::Ok();
}

// A list of trusted proxies (`http.trusted_proxies`, `detection.log_trusted_proxies`); the
// error starts with `key`.
Result<ProxyTrust> ReadProxyList(const std::vector<std::string>& entries, const std::string& key);

// `http.metrics_listen` parsed into *host and *port, on an address of its own: InvalidArgument
// (starting with the key) when it cannot be parsed or is the address `listen` serves on.
Status CheckMetricsListen(const std::string& metrics_listen, const std::string& listen_host,
                          uint16_t listen_port, std::string* host, uint16_t* port);

// The bundled playbooks, then those of `dirs`: the ones that load, and one "FILE:LINE: message"
// per file refused or playbook whose id an earlier one has.
respond::PlaybookLoad LoadPlaybooks(const std::string& bundled_dir,
                                    const std::vector<std::string>& dirs);

}  // namespace rampart::server
