// Playbooks: what Rampart does by itself when an alert is stored. Declarative YAML under
// rules/playbooks/ (data, reviewed like code), one playbook per file:
//
//   id: epmm-exploit-block
//   title: Block the source of an EPMM exploit attempt
//   trigger:
//     rule_ids: ["3b672e5c-3104-49c7-bfeb-7d14e1035b40", "epmm-*"]   # wildcards: * and ?
//     tags: [cve.2026-1281]          # ATT&CK ids ("t1190", "attack.t1190") or rule tags
//     min_severity: high
//     entity_type: source.ip         # the alert's entity kind ("source.ip", "user.name", ...)
//   steps:
//     - action: block_address
//       duration: 24h
//     - action: lockdown
//       scope: institution
//       requires_approval: true      # waits for an admin (POST /api/v1/response/pending/...)
//
// Parsing is pure (no I/O) so that it can be fuzzed; LoadPlaybookDir reads a directory and
// keeps going past a broken file, naming it and the line of the fault.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "core/alert.h"

namespace rampart::respond {

// The actions a playbook step may name. Each is implemented by ActionEngine (actions.h).
enum class ActionKind {
  kBlockAddress,
  kRevokePrincipal,
  kDisableUser,
  kLockdown,
  kPauseCommandBatch,
  kQuarantineApp,
  kCaptureEvidence,
  kRotateCommandKey,
  kRewrapMasterKey,
};
std::string_view ToString(ActionKind kind);

struct PlaybookStep {
  ActionKind action = ActionKind::kBlockAddress;
  int line = 0;  // 1-based line of the step in its file, for messages
  bool requires_approval = false;
  int64_t duration_seconds = 0;  // block_address: how long the block lasts
  bool server_wide = false;      // lockdown: the whole server instead of the institution
};

struct PlaybookTrigger {
  std::vector<std::string> rule_ids;  // glob patterns; any may match
  std::vector<std::string> tags;      // any may match an ATT&CK id of the alert
  std::string min_severity;           // empty: any
  std::string entity_type;            // empty: any
};

struct Playbook {
  std::string id;
  std::string title;
  std::string file;
  PlaybookTrigger trigger;
  std::vector<PlaybookStep> steps;
};

inline constexpr int64_t kDefaultBlockSeconds = 24 * 3600;
inline constexpr int64_t kMaxBlockSeconds = 365 * 24 * 3600;

// Parses one playbook. InvalidArgument "FILE:LINE: message" for malformed YAML, a missing or
// unknown field, an unknown action, a bad duration or severity. Never throws.
Result<Playbook> ParsePlaybook(std::string_view yaml_text, const std::string& file);

struct PlaybookLoad {
  std::vector<Playbook> playbooks;  // the ones that parsed, ordered by file name
  std::vector<std::string> errors;  // one "FILE:LINE: message" per refused file
};
// Reads every *.yml / *.yaml file of `dir` (not recursive). A missing directory is an error in
// `errors`; two playbooks with one id keep the first and report the second.
PlaybookLoad LoadPlaybookDir(const std::string& dir);

// "3600", "90s", "30m", "24h", "7d" → seconds; InvalidArgument otherwise or when not positive.
Result<int64_t> ParseDuration(std::string_view text);
// Shell-style wildcard match: '*' any run, '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view text);
// Whether the alert fires the playbook.
bool TriggerMatches(const PlaybookTrigger& trigger, const core::Alert& alert);
// The kind of an alert's entity: "source.ip" for "source.ip=203.0.113.7".
std::string_view EntityType(std::string_view entity);
std::string_view EntityValue(std::string_view entity);

}  // namespace rampart::respond
