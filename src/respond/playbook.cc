#include "respond/playbook.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include "common/text.h"
#include "common/yaml_quotes.h"

namespace rampart::respond {
namespace {

constexpr size_t kMaxPlaybookBytes = 256 * 1024;
constexpr size_t kMaxSteps = 32;
constexpr size_t kMaxPatterns = 64;

Status At(const std::string& file, const YAML::Mark& mark, const std::string& message) {
  int line = mark.line >= 0 ? mark.line + 1 : 1;
  return Status::InvalidArgument(file + ":" + std::to_string(line) + ": " + message);
}

Result<std::string> ScalarOf(const YAML::Node& node, const std::string& file,
                             const std::string& what) {
  if (!node.IsScalar()) return At(file, node.Mark(), what + " must be a string");
  return node.Scalar();
}

Result<std::vector<std::string>> StringList(const YAML::Node& node, const std::string& file,
                                            const std::string& what) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) return At(file, node.Mark(), what + " must be a list of strings");
  if (node.size() > kMaxPatterns) return At(file, node.Mark(), what + " has too many entries");
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      return At(file, item.Mark(), what + " entries must be non-empty strings");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

Result<bool> BoolOf(const YAML::Node& node, const std::string& file, const std::string& what) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return At(file, node.Mark(), what + " must be true or false");
}

Result<ActionKind> ParseAction(const std::string& name) {
  if (name == "block_address") return ActionKind::kBlockAddress;
  if (name == "revoke_principal") return ActionKind::kRevokePrincipal;
  if (name == "disable_user") return ActionKind::kDisableUser;
  if (name == "lockdown") return ActionKind::kLockdown;
  if (name == "pause_command_batch") return ActionKind::kPauseCommandBatch;
  if (name == "quarantine_app") return ActionKind::kQuarantineApp;
  if (name == "capture_evidence") return ActionKind::kCaptureEvidence;
  if (name == "rotate_command_key") return ActionKind::kRotateCommandKey;
  if (name == "rewrap_master_key") return ActionKind::kRewrapMasterKey;
  return Status::InvalidArgument("unknown action '" + name +
                                 "' (block_address, revoke_principal, disable_user, lockdown, "
                                 "pause_command_batch, quarantine_app, capture_evidence, "
                                 "rotate_command_key, rewrap_master_key)");
}

Result<PlaybookStep> ParseStep(const YAML::Node& node, const std::string& file) {
  if (!node.IsMap()) return At(file, node.Mark(), "a step must be a mapping");
  PlaybookStep step;
  step.line = node.Mark().line + 1;
  bool has_action = false;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (key == "action") {
      RAMPART_ASSIGN_OR_RETURN(std::string name, ScalarOf(v, file, "action"));
      auto kind = ParseAction(name);
      if (!kind.ok()) return At(file, v.Mark(), kind.status().message());
      step.action = *kind;
      has_action = true;
    } else if (key == "requires_approval") {
      RAMPART_ASSIGN_OR_RETURN(step.requires_approval, BoolOf(v, file, "requires_approval"));
    } else if (key == "duration") {
      RAMPART_ASSIGN_OR_RETURN(std::string text, ScalarOf(v, file, "duration"));
      auto d = ParseDuration(text);
      if (!d.ok()) return At(file, v.Mark(), d.status().message());
      if (*d > kMaxBlockSeconds) return At(file, v.Mark(), "duration is longer than a year");
      step.duration_seconds = *d;
    } else if (key == "scope") {
      RAMPART_ASSIGN_OR_RETURN(std::string scope, ScalarOf(v, file, "scope"));
      if (scope != "institution" && scope != "server") {
        return At(file, v.Mark(), "scope must be 'institution' or 'server'");
      }
      step.server_wide = scope == "server";
    } else {
      return At(file, kv.first.Mark(), "unknown step field '" + key + "'");
    }
  }
  if (!has_action) return At(file, node.Mark(), "a step needs an action");
  if (step.duration_seconds != 0 && step.action != ActionKind::kBlockAddress) {
    return At(file, node.Mark(), "only block_address takes a duration");
  }
  if (step.server_wide && step.action != ActionKind::kLockdown) {
    return At(file, node.Mark(), "only lockdown takes a scope");
  }
  if (step.action == ActionKind::kBlockAddress && step.duration_seconds == 0) {
    step.duration_seconds = kDefaultBlockSeconds;
  }
  return step;
}

Result<PlaybookTrigger> ParseTrigger(const YAML::Node& node, const std::string& file) {
  if (!node.IsMap()) return At(file, node.Mark(), "trigger must be a mapping");
  PlaybookTrigger t;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (key == "rule_ids") {
      RAMPART_ASSIGN_OR_RETURN(t.rule_ids, StringList(v, file, "rule_ids"));
    } else if (key == "tags") {
      RAMPART_ASSIGN_OR_RETURN(t.tags, StringList(v, file, "tags"));
    } else if (key == "min_severity") {
      RAMPART_ASSIGN_OR_RETURN(t.min_severity, ScalarOf(v, file, "min_severity"));
      if (!core::IsAlertSeverity(t.min_severity)) {
        return At(file, v.Mark(),
                  "min_severity must be informational, low, medium, high or critical");
      }
    } else if (key == "entity_type") {
      RAMPART_ASSIGN_OR_RETURN(t.entity_type, ScalarOf(v, file, "entity_type"));
    } else {
      return At(file, kv.first.Mark(), "unknown trigger field '" + key + "'");
    }
  }
  if (t.rule_ids.empty() && t.tags.empty()) {
    return At(file, node.Mark(), "trigger needs rule_ids or tags");
  }
  return t;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Result<Playbook> ParseRoot(const YAML::Node& root, const std::string& file) {
  if (!root.IsMap()) return At(file, root.Mark(), "a playbook must be a mapping");
  Playbook pb;
  pb.file = file;
  bool has_trigger = false;
  bool has_steps = false;
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (key == "id") {
      RAMPART_ASSIGN_OR_RETURN(pb.id, ScalarOf(v, file, "id"));
      if (!ValidId(pb.id)) {
        return At(file, v.Mark(), "id must be 1-100 characters of a-z, 0-9, '-' or '_'");
      }
    } else if (key == "title" || key == "description") {
      RAMPART_ASSIGN_OR_RETURN(std::string text, ScalarOf(v, file, key));
      if (key == "title") pb.title = text;
    } else if (key == "trigger") {
      RAMPART_ASSIGN_OR_RETURN(pb.trigger, ParseTrigger(v, file));
      has_trigger = true;
    } else if (key == "steps") {
      if (!v.IsSequence() || v.size() == 0) {
        return At(file, v.Mark(), "steps must be a non-empty list");
      }
      if (v.size() > kMaxSteps) return At(file, v.Mark(), "too many steps");
      for (const auto& s : v) {
        RAMPART_ASSIGN_OR_RETURN(PlaybookStep step, ParseStep(s, file));
        pb.steps.push_back(step);
      }
      has_steps = true;
    } else {
      return At(file, kv.first.Mark(), "unknown field '" + key + "'");
    }
  }
  if (pb.id.empty()) return At(file, root.Mark(), "a playbook needs an id");
  if (!has_trigger) return At(file, root.Mark(), "a playbook needs a trigger");
  if (!has_steps) return At(file, root.Mark(), "a playbook needs steps");
  return pb;
}

}  // namespace

std::string_view ToString(ActionKind kind) {
  switch (kind) {
    case ActionKind::kBlockAddress:
      return "block_address";
    case ActionKind::kRevokePrincipal:
      return "revoke_principal";
    case ActionKind::kDisableUser:
      return "disable_user";
    case ActionKind::kLockdown:
      return "lockdown";
    case ActionKind::kPauseCommandBatch:
      return "pause_command_batch";
    case ActionKind::kQuarantineApp:
      return "quarantine_app";
    case ActionKind::kCaptureEvidence:
      return "capture_evidence";
    case ActionKind::kRotateCommandKey:
      return "rotate_command_key";
    case ActionKind::kRewrapMasterKey:
      return "rewrap_master_key";
  }
  return "unknown";
}

Result<Playbook> ParsePlaybook(std::string_view yaml_text, const std::string& file) {
  if (yaml_text.size() > kMaxPlaybookBytes) {
    return Status::InvalidArgument(file + ":1: playbook is larger than 256 KiB");
  }
  // yaml-cpp reports faults by exception; they end here.
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (auto quote = FindUnclosedQuote(root, yaml_text)) {
      return Status::InvalidArgument(file + ":" + std::to_string(quote->line + 1) +
                                     ": the quote opened at column " +
                                     std::to_string(quote->column + 1) + " is never closed");
    }
    return ParseRoot(root, file);
  } catch (const YAML::Exception& e) {
    return At(file, e.mark, e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(file + ":1: " + e.what());
  }
}

PlaybookLoad LoadPlaybookDir(const std::string& dir) {
  PlaybookLoad out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(entry.path());
  }
  if (ec) {
    out.errors.push_back(dir + ": cannot read the playbook directory: " + ec.message());
    return out;
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> ids;
  for (const auto& path : files) {
    const std::string name = path.string();
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      out.errors.push_back(name + ":1: cannot read the file");
      continue;
    }
    auto pb = ParsePlaybook(text.str(), name);
    if (!pb.ok()) {
      out.errors.push_back(pb.status().message());
      continue;
    }
    if (!ids.insert(pb->id).second) {
      out.errors.push_back(name + ":1: playbook id '" + pb->id + "' is already used");
      continue;
    }
    out.playbooks.push_back(std::move(pb).value());
  }
  return out;
}

Result<int64_t> ParseDuration(std::string_view text) {
  if (text.empty() || text.size() > 12) return Status::InvalidArgument("bad duration");
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      digits.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      digits.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      digits.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      digits.remove_suffix(1);
      break;
    default:
      break;
  }
  if (digits.empty()) return Status::InvalidArgument("bad duration '" + std::string(text) + "'");
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("bad duration '" + std::string(text) +
                                     "' (use 90s, 30m, 24h or 7d)");
    }
    n = n * 10 + (c - '0');
  }
  if (n <= 0) return Status::InvalidArgument("duration must be positive");
  return n * unit;
}

bool GlobMatch(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string_view EntityType(std::string_view entity) {
  size_t eq = entity.find('=');
  return eq == std::string_view::npos ? entity : entity.substr(0, eq);
}

std::string_view EntityValue(std::string_view entity) {
  size_t eq = entity.find('=');
  return eq == std::string_view::npos ? std::string_view() : entity.substr(eq + 1);
}

namespace {}  // namespace

bool TriggerMatches(const PlaybookTrigger& trigger, const core::Alert& alert) {
  if (!trigger.min_severity.empty() &&
      core::SeverityRank(alert.severity) < core::SeverityRank(trigger.min_severity)) {
    return false;
  }
  if (!trigger.entity_type.empty() && EntityType(alert.entity) != trigger.entity_type) {
    return false;
  }
  bool matched = false;
  for (const auto& pattern : trigger.rule_ids) {
    if (GlobMatch(pattern, alert.rule_id)) matched = true;
  }
  for (const auto& tag : trigger.tags) {
    std::string want = AsciiLower(tag);
    if (want.rfind("attack.", 0) == 0) want = want.substr(7);
    for (const auto& id : alert.attack) {
      if (GlobMatch(want, AsciiLower(id))) matched = true;
    }
  }
  return matched;
}

}  // namespace rampart::respond
