// `rampart demo breach`: the January 30 replay. Stands up a real server (the `rampart serve`
// binary as a child process on 127.0.0.1, fresh data directory), two institutions with their
// staff, and a simulated fleet (`rampart-agent simulate` children, one per institution); then
// plays the January 2026 attack as a client would (CVE-2026-1281/1340-shaped exploit requests,
// a stolen admin API token harvesting staff contacts, a wipe pushed to every device) and prints
// what the server recorded: alerts, the containment the bundled playbooks applied (the exploit
// address blocked, the stolen token revoked, the institution in lockdown), the incidents with
// their computed figures and drafted reports, staff records decrypted according to the keeper's
// audit log, command states, and what the devices themselves executed. docs/demo-breach.md
// explains each figure.
//
//   BreachDemoOptions o;
//   o.staff = 200; o.devices = 200; o.json = true;
//   return RunBreachDemo(o);  // 0 when the replay ran, whatever it found
#pragma once

#include <cstdint>
#include <string>

namespace rampart::server {

struct BreachDemoOptions {
  std::string data_dir;    // empty: a fresh temporary directory; otherwise must be empty or absent
  int64_t staff = 2000;    // across both institutions (half each), canaries not counted
  int64_t devices = 2000;  // across both institutions (half each)
  bool json = false;       // print the summary as one JSON object instead of text
  bool keep = false;       // keep the work directory (logs, configuration, temporary data)
  // Where the drafted incident reports go (created if absent, files overwritten). Empty: the
  // work directory's reports/ with --keep or without --data, else reports/ beside --data. The
  // reports are kept whatever happens to the rest of the work directory.
  std::string reports_dir;
};

// Runs the replay and prints the summary on stdout (progress goes to stderr). Returns the
// process exit code: 0 when the replay ran to the end, 1 when the server or the fleet could
// not be stood up (the reason is printed).
int RunBreachDemo(const BreachDemoOptions& options);

}  // namespace rampart::server
