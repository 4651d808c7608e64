#include "server/startup_checks.h"

#include <set>

namespace rampart::server {

Result<ProxyTrust> ReadProxyList(const std::vector<std::string>& entries, const std::string& key) {
  ProxyTrust trust;
  for (const std::string& entry : entries) {
    auto proxy = ParseTrustedProxy(entry);
    if (!proxy.ok()) return Status::InvalidArgument(key + ": " + proxy.status().message());
    trust.proxies.push_back(*proxy);
  }
  return trust;
}

Status CheckMetricsListen(const std::string& metrics_listen, const std::string& listen_host,
                          uint16_t listen_port, std::string* host, uint16_t* port) {
  if (Status s = ParseHostPort(metrics_listen, host, port); !s.ok()) {
    return Status::InvalidArgument("http.metrics_listen: " + s.message());
  }
  auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
  if (*port != 0 && *port == listen_port &&
      (*host == listen_host || wildcard(*host) || wildcard(listen_host))) {
    return Status::InvalidArgument(
        "http.metrics_listen is the address of listen; give it its own port");
  }
  return Status::Ok();
}

respond::PlaybookLoad LoadPlaybooks(const std::string& bundled_dir,
                                    const std::vector<std::string>& dirs) {
  std::vector<std::string> all = {bundled_dir};
  all.insert(all.end(), dirs.begin(), dirs.end());
  respond::PlaybookLoad out;
  std::set<std::string> ids;
  for (const auto& dir : all) {
    if (dir.empty()) continue;
    respond::PlaybookLoad load = respond::LoadPlaybookDir(dir);
    out.errors.insert(out.errors.end(), load.errors.begin(), load.errors.end());
    for (auto& pb : load.playbooks) {
      if (!ids.insert(pb.id).second) {
        out.errors.push_back(pb.file + ":1: playbook id '" + pb.id + "' is already used");
        continue;
      }
      out.playbooks.push_back(std::move(pb));
    }
  }
  return out;
}

}  // namespace rampart::server
