#include "audit/format.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/json_util.h"

namespace rampart::audit {

namespace {

using nlohmann::json;

constexpr int64_t kMaxIndex = int64_t{1} << 53;  // exact in every JSON reader, incl. JavaScript

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Rendering and destroying nested JSON recurses once per level; a 64 KiB line of "[[[[..."
// would otherwise be 32 000 frames deep on a keeper thread's stack. Counted on the raw text,
// before the parser builds anything.
constexpr int kMaxNesting = 32;

bool NestingWithinLimit(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxNesting) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

bool ValidSeverity(std::string_view s) {
  return s == "info" || s == "warning" || s == "critical";
}

// Fields of a record except details, index and time, in one place so that writer and parser
// agree.
struct StringField {
  const char* key;
  std::string Record::*member;
};
constexpr StringField kStringFields[] = {
    {"actor", &Record::actor},
    {"action", &Record::action},
    {"target", &Record::target},
    {"outcome", &Record::outcome},
    {"institution_id", &Record::institution_id},
    {"request_id", &Record::request_id},
    {"source_ip", &Record::source_ip},
    {"severity", &Record::severity},
};

json RecordJson(const Record& record) {
  json obj = json::object();
  for (const auto& f : kStringFields) obj[f.key] = record.*(f.member);
  obj["index"] = record.index;
  obj["time"] = record.time;
  json details = json::parse(record.details_json, nullptr, /*allow_exceptions=*/false);
  // CanonicalRecord and ParseRecordLine only let objects through; anything else here is a
  // caller that skipped them, and an empty object keeps the line well-formed.
  obj["details"] = details.is_object() ? details : json::object();
  return obj;
}

Status CheckStrings(const Record& record) {
  for (const auto& f : kStringFields) {
    if ((record.*(f.member)).size() > kMaxFieldBytes) {
      return Status::InvalidArgument(std::string("audit record field '") + f.key +
                                     "' is longer than " + std::to_string(kMaxFieldBytes) +
                                     " bytes");
    }
  }
  if (record.action.empty()) return Status::InvalidArgument("audit record needs an action");
  if (!ValidSeverity(record.severity)) {
    return Status::InvalidArgument("audit record severity must be info, warning or critical");
  }
  return Status::Ok();
}

}  // namespace

std::string CheckpointMessage(int64_t tree_size, std::string_view root_hex, int64_t time) {
  std::string m = "RAMPART-AUDIT-CHECKPOINT-V1\n";
  m += std::to_string(tree_size);
  m += '\n';
  m += root_hex;
  m += '\n';
  m += std::to_string(time);
  return m;
}

Result<Record> CanonicalRecord(const Record& record) {
  RAMPART_RETURN_IF_ERROR(CheckStrings(record));
  if (record.details_json.size() > kMaxDetailsBytes) {
    return Status::InvalidArgument("audit record details are longer than " +
                                   std::to_string(kMaxDetailsBytes) + " bytes");
  }
  if (!NestingWithinLimit(record.details_json)) {
    return Status::InvalidArgument("audit record details are nested too deeply");
  }
  json details = json::parse(record.details_json, nullptr, /*allow_exceptions=*/false);
  if (details.is_discarded() || !details.is_object()) {
    return Status::InvalidArgument("audit record details must be a JSON object");
  }
  Record out = record;
  out.details_json = jsonutil::Dump(details);
  // Re-rendering can lengthen numbers (1e3 becomes 1000.0); the parser bounds the stored form.
  if (out.details_json.size() > kMaxDetailsBytes) {
    return Status::InvalidArgument("audit record details are too long once rendered");
  }
  return out;
}

std::string LeafBytes(const Record& record) {
  return jsonutil::Dump(RecordJson(record));
}

std::string RecordLine(const Record& record, const Hash& root_after) {
  json obj = RecordJson(record);
  obj["root"] = ToHex(root_after);
  return jsonutil::Dump(obj);
}

Result<ParsedRecordLine> ParseRecordLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("record line is too long");
  if (!NestingWithinLimit(line)) return Status::InvalidArgument("record line is nested too deeply");
  json obj = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Status::InvalidArgument("record line is not valid JSON");
  if (!obj.is_object()) return Status::InvalidArgument("record line is not a JSON object");
  RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(
      obj, {"actor", "action", "target", "outcome", "institution_id", "request_id", "source_ip",
            "severity", "index", "time", "details", "root"}));
  ParsedRecordLine out;
  for (const auto& f : kStringFields) {
    RAMPART_RETURN_IF_ERROR(
        jsonutil::GetString(obj, f.key, &(out.record.*(f.member)), true, kMaxFieldBytes));
  }
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(obj, "index", &out.record.index, true, 0, kMaxIndex));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(obj, "time", &out.record.time, true, 0, kMaxIndex));
  if (out.record.action.empty()) return Status::InvalidArgument("field 'action' is empty");
  if (!ValidSeverity(out.record.severity)) {
    return Status::InvalidArgument("field 'severity' must be info, warning or critical");
  }
  auto details = obj.find("details");
  if (details == obj.end() || !details->is_object()) {
    return Status::InvalidArgument("field 'details' must be a JSON object");
  }
  out.record.details_json = jsonutil::Dump(*details);
  if (out.record.details_json.size() > kMaxDetailsBytes) {
    return Status::InvalidArgument("field 'details' is too long");
  }
  std::string root;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(obj, "root", &root, true, 64));
  if (root.size() != 64 || !IsLowerHex(root)) {
    return Status::InvalidArgument("field 'root' must be 64 lower-case hex digits");
  }
  RAMPART_ASSIGN_OR_RETURN(out.root, HashFromHex(root));
  return out;
}

std::string CheckpointLine(const Checkpoint& checkpoint) {
  json obj = {{"tree_size", checkpoint.tree_size},
              {"root", checkpoint.root_hex},
              {"time", checkpoint.time},
              {"signature", crypto::HexEncode(checkpoint.signature)}};
  return jsonutil::Dump(obj);
}

Result<Checkpoint> ParseCheckpointLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("checkpoint line is too long");
  if (!NestingWithinLimit(line)) {
    return Status::InvalidArgument("checkpoint line is nested too deeply");
  }
  json obj = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Status::InvalidArgument("checkpoint line is not valid JSON");
  if (!obj.is_object()) return Status::InvalidArgument("checkpoint line is not a JSON object");
  RAMPART_RETURN_IF_ERROR(
      jsonutil::RejectUnknownFields(obj, {"tree_size", "root", "time", "signature"}));
  Checkpoint out;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(obj, "tree_size", &out.tree_size, true, 0, kMaxIndex));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(obj, "time", &out.time, true, 0, kMaxIndex));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(obj, "root", &out.root_hex, true, 64));
  if (out.root_hex.size() != 64 || !IsLowerHex(out.root_hex)) {
    return Status::InvalidArgument("field 'root' must be 64 lower-case hex digits");
  }
  std::string sig_hex;
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetString(obj, "signature", &sig_hex, true, 2 * crypto::kEd25519SignatureBytes));
  if (sig_hex.size() != 2 * crypto::kEd25519SignatureBytes || !IsLowerHex(sig_hex)) {
    return Status::InvalidArgument("field 'signature' must be 128 lower-case hex digits");
  }
  RAMPART_ASSIGN_OR_RETURN(out.signature, crypto::HexDecode(sig_hex));
  return out;
}

}  // namespace rampart::audit
