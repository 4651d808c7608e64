// `rampart serve`: wires the store, the TLS material, the application and the HTTP server
// together and runs until SIGINT or SIGTERM, then shuts down gracefully.
#pragma once

#include <string>

namespace rampart::server {

struct ServeOptions {
  std::string data_dir = "var";
  std::string listen;       // overrides the config file when set
  std::string config_file;  // optional YAML
  bool demo = false;
  bool plain_http = false;            // --insecure-http: for local debugging only
  std::string bundled_playbooks_dir;  // the bundled playbooks (rules/playbooks)
  std::string bundled_rules_dir;      // the bundled Sigma rules the live engine always loads
};

int Serve(const ServeOptions& options);

}  // namespace rampart::server
