// `rampart config check --config FILE [--data DIR] [--strict]`: reads a configuration as
// `rampart serve` would and tries every part of it that can be tried without starting anything:
// no data directory is created, no database opened, no keeper started, no port bound. So an
// operator can check a change before the restart that would fail on it, as `nginx -t` does.
//
// It prints one line per check, "ok", "warn" or "error", the configuration key and what was
// found, then a count:
//   ok      config                  /etc/rampart/rampart.yml
//   ok      detection               16 rules, 6 correlations, 100000 indicators
//   warn    detection.ioc_files     /etc/rampart/feeds/misp.json: invalid JSON at byte 701
//   error   detection.follow_formats  /var/log/nginx/access.log: ... at offset 12
//   1 error, 1 warning
// An error is what keeps `rampart serve` from starting; a warning, what it starts without (a
// rule or an IoC feed it leaves out, a playbook it refuses, an external keeper not there yet).
#pragma once

#include <ostream>
#include <string>

namespace rampart::server {

struct ConfigCheckOptions {
  std::string config_file;
  // Optional: also checks what serve reads there (followed files' positions, the integrity
  // baseline).
  std::string data_dir;
  std::string listen;  // serve's --listen, when it is given one: overrides the file's `listen`
  std::string bundled_rules_dir;
  std::string bundled_playbooks_dir;
  bool strict = false;          // warnings fail the check too
  std::ostream* out = nullptr;  // default stdout
};

// 0 when serve would start with everything the configuration names (with `strict`, and no
// warning); 1 otherwise.
int RunConfigCheck(const ConfigCheckOptions& options);

}  // namespace rampart::server
