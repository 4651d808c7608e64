#include "core/commands.h"

#include <nlohmann/json.hpp>

#include "common/json_util.h"

namespace rampart::core {

bool IsFinal(CommandState s) {
  return s == CommandState::kAcknowledged || s == CommandState::kError ||
         s == CommandState::kCanceled || s == CommandState::kExpired ||
         s == CommandState::kRejected;
}

bool IsAllowedTransition(CommandState from, CommandState to) {
  using S = CommandState;
  switch (from) {
    case S::kAwaitingApproval:
      return to == S::kQueued || to == S::kCanceled || to == S::kExpired;
    case S::kQueued:
      return to == S::kSent || to == S::kCanceled || to == S::kExpired;
    case S::kSent:
      return to == S::kAcknowledged || to == S::kError || to == S::kNotNow || to == S::kExpired ||
             to == S::kSent || to == S::kCanceled || to == S::kRejected;
    case S::kNotNow:
      return to == S::kSent || to == S::kCanceled || to == S::kExpired || to == S::kError;
    case S::kAcknowledged:
    case S::kError:
    case S::kCanceled:
    case S::kExpired:
    case S::kRejected:
      return false;
  }
  return false;
}

bool IsDestructive(CommandType type) {
  return type == CommandType::kWipe || type == CommandType::kRetire;
}

Result<std::string> ValidateCommandPayload(CommandType type, const nlohmann::json& params) {
  if (!params.is_object()) return Status::InvalidArgument("command parameters must be an object");
  nlohmann::json out = nlohmann::json::object();
  switch (type) {
    case CommandType::kLock: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {"message"}));
      std::string message;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "message", &message, false, 500));
      if (!message.empty()) out["message"] = message;
      break;
    }
    case CommandType::kWipe: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {"mode"}));
      std::string mode = "full";
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "mode", &mode, false, 16));
      if (mode != "full" && mode != "corporate") {
        return Status::InvalidArgument("wipe mode must be 'full' or 'corporate'");
      }
      out["mode"] = mode;
      break;
    }
    case CommandType::kLostMode: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {"message", "phone"}));
      std::string message;
      std::string phone;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "message", &message, true, 500));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "phone", &phone, true, 32));
      if (message.empty()) return Status::InvalidArgument("lost mode needs a message");
      for (char c : phone) {
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == ' ' || c == '-' ||
              c == '(' || c == ')')) {
          return Status::InvalidArgument("field 'phone' may hold only digits, spaces and + - ( )");
        }
      }
      out["message"] = message;
      out["phone"] = phone;
      break;
    }
    case CommandType::kClearPasscode:
    case CommandType::kRestart:
    case CommandType::kRetire: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {}));
      break;
    }
    case CommandType::kInstallApp: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(
          params, {"app_id", "bundle_id", "version", "sha256", "size_bytes"}));
      std::string app_id, bundle_id, version, sha256;
      int64_t size = 0;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "app_id", &app_id, true, 64));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "bundle_id", &bundle_id, true, 255));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "version", &version, true, 64));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "sha256", &sha256, true, 64));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(params, "size_bytes", &size, true, 0, INT64_MAX));
      out = {{"app_id", app_id},
             {"bundle_id", bundle_id},
             {"version", version},
             {"sha256", sha256},
             {"size_bytes", size}};
      break;
    }
    case CommandType::kRemoveApp: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {"bundle_id"}));
      std::string bundle_id;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "bundle_id", &bundle_id, true, 255));
      if (bundle_id.empty()) return Status::InvalidArgument("field 'bundle_id' is empty");
      out["bundle_id"] = bundle_id;
      break;
    }
    case CommandType::kApplyPolicy: {
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(params, {"policy_id", "rules"}));
      std::string policy_id;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(params, "policy_id", &policy_id, true, 64));
      auto rules = params.find("rules");
      if (rules == params.end() || !rules->is_object()) {
        return Status::InvalidArgument("field 'rules' must be an object");
      }
      out["policy_id"] = policy_id;
      out["rules"] = *rules;
      break;
    }
  }
  return jsonutil::Dump(out);
}

}  // namespace rampart::core
