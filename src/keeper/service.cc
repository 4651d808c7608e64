#include "keeper/service.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/crypto.h"
#include "common/files.h"
#include "core/command_signing.h"
#include "core/model.h"

namespace rampart::keeper {
namespace {

using nlohmann::json;

constexpr size_t kMaxKeysFileBytes = 16 * 1024 * 1024;
constexpr size_t kMaxFieldBytes = 1024;
constexpr size_t kMaxRecordsPerOpen = 10000;

struct InstitutionKey {
  std::string key_id;
  std::string seed;  // raw 32 bytes
  int64_t created_at = 0;
  std::string public_key;  // derived
  std::string secret_key;  // derived, 64 bytes
};

struct InstitutionKeys {
  std::vector<InstitutionKey> keys;  // oldest first; the last is current
  std::vector<KeyRotation> rotations;
};

// A per-principal token bucket: `capacity` records, refilled over a minute.
struct Bucket {
  double tokens = 0;
  int64_t updated_at = 0;
};

std::string StaffAssociatedData(std::string_view institution_id, std::string_view staff_id) {
  std::string ad = "rampart-staff-v1\n";
  ad += institution_id;
  ad += '\n';
  ad += staff_id;
  return ad;
}

bool IsDestructiveType(std::string_view type) {
  return type == "wipe" || type == "retire";
}

// install_app and apply_policy are built by the server from its catalogue and policies, never
// typed by an admin; group assignments legitimately send them to thousands of devices.
bool IsCatalogueType(std::string_view type) {
  return type == "install_app" || type == "apply_policy";
}

// Who may have evidence signed: the roles that handle incidents (incidents.write in
// core/permissions.cc) and the playbook engine.
bool MayCaptureEvidence(const Caller& caller) {
  return caller.role == "superadmin" || caller.role == "admin" || caller.role == "analyst" ||
         (caller.principal == "system" && caller.role == "system");
}

// Who may have audit records proved: the roles that read the audit log (audit.read) and the
// playbook engine.
bool MayReadAudit(const Caller& caller) {
  return MayCaptureEvidence(caller) || caller.role == "auditor";
}

// Who may rotate master keys and re-wrap data keys: the superadmin and the playbook engine.
// Neither reveals a key or a field, but each rotation adds a key the keeper keeps.
bool MayManageMasterKeys(const Caller& caller) {
  return caller.role == "superadmin" || (caller.principal == "system" && caller.role == "system");
}

std::string WrapAssociatedData(std::string_view institution_id, std::string_view staff_id,
                               int64_t version) {
  return StaffAssociatedData(institution_id, staff_id) + "\nkey-v" + std::to_string(version);
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckField(std::string_view value, std::string_view name, bool required) {
  if (required && value.empty()) return Status::InvalidArgument(std::string(name) + " is empty");
  if (value.size() > kMaxFieldBytes) {
    return Status::InvalidArgument(std::string(name) + " is too long");
  }
  return Status::Ok();
}

}  // namespace

class KeeperService::State {
 public:
  KeeperOptions options;
  AuditTrail* trail = nullptr;
  const Clock* clock = nullptr;

  std::mutex mu;                                  // guards everything below
  std::map<int64_t, std::string> master_keys;     // version → raw key
  std::map<int64_t, int64_t> master_key_created;  // version → Unix seconds (0: not recorded)
  std::string blind_index_key;
  std::string checkpoint_seed;
  crypto::Ed25519KeyPair checkpoint_key;
  std::map<std::string, InstitutionKeys> institutions;
  std::unordered_map<std::string, Bucket> buckets;
  std::map<std::string, std::deque<int64_t>> destructive_signatures;       // institution → times
  std::map<std::string, std::deque<std::pair<int64_t, int64_t>>> exports;  // (time, records)

  // Requires mu. Spends `n` from the institution's daily export allowance, or nothing.
  Status SpendExport(const std::string& institution_id, int64_t n, int64_t now) {
    auto& spent = exports[institution_id];
    while (!spent.empty() && spent.front().first <= now - 86400) spent.pop_front();
    int64_t used = 0;
    for (const auto& [at, records] : spent) used += records;
    if (used + n > options.export_records_per_day) {
      return Status::ResourceExhausted("the institution's daily export allowance (" +
                                       std::to_string(options.export_records_per_day) +
                                       " records) is used up");
    }
    spent.emplace_back(now, n);
    return Status::Ok();
  }

  std::string KeysPath() const { return options.key_dir + "/keys.json"; }

  Status Load() {
    auto text = files::ReadWholeFile(KeysPath(), kMaxKeysFileBytes);
    if (!text.ok() && text.status().code() == Code::kNotFound) return CreateFresh();
    if (!text.ok()) return text.status();
    json doc = json::parse(*text, nullptr, false);
    if (!doc.is_object()) return Status::Internal("keys.json is not valid JSON");
    try {
      for (const auto& mk : doc.at("master_keys")) {
        RAMPART_ASSIGN_OR_RETURN(std::string key,
                                 crypto::HexDecode(mk.at("key").get<std::string>()));
        const auto version = mk.at("version").get<int64_t>();
        master_keys[version] = std::move(key);
        // Files written before rotation existed carry no creation time.
        master_key_created[version] = mk.value("created_at", int64_t{0});
      }
      RAMPART_ASSIGN_OR_RETURN(blind_index_key,
                               crypto::HexDecode(doc.at("blind_index_key").get<std::string>()));
      RAMPART_ASSIGN_OR_RETURN(checkpoint_seed,
                               crypto::HexDecode(doc.at("checkpoint_seed").get<std::string>()));
      for (const auto& [institution, entry] : doc.at("institutions").items()) {
        InstitutionKeys ik;
        for (const auto& k : entry.at("keys")) {
          InstitutionKey key;
          key.key_id = k.at("key_id").get<std::string>();
          RAMPART_ASSIGN_OR_RETURN(key.seed, crypto::HexDecode(k.at("seed").get<std::string>()));
          key.created_at = k.at("created_at").get<int64_t>();
          RAMPART_RETURN_IF_ERROR(Derive(key));
          ik.keys.push_back(std::move(key));
        }
        for (const auto& r : entry.at("rotations")) {
          KeyRotation rot;
          rot.fields.institution_id = institution;
          rot.fields.old_key_id = r.at("old_key_id").get<std::string>();
          rot.fields.new_key_id = r.at("new_key_id").get<std::string>();
          rot.fields.new_public_key_b64 = r.at("new_public_key").get<std::string>();
          rot.fields.issued_at = r.at("issued_at").get<int64_t>();
          RAMPART_ASSIGN_OR_RETURN(rot.signature,
                                   crypto::HexDecode(r.at("signature").get<std::string>()));
          ik.rotations.push_back(std::move(rot));
        }
        institutions[institution] = std::move(ik);
      }
    } catch (const json::exception&) {
      return Status::Internal("keys.json is missing a field");
    }
    if (master_keys.empty() || blind_index_key.size() != 32 || checkpoint_seed.size() != 32) {
      return Status::Internal("keys.json holds keys of the wrong size");
    }
    for (const auto& [version, key] : master_keys) {
      if (key.size() != crypto::kAeadKeyBytes) return Status::Internal("bad master key size");
    }
    RAMPART_ASSIGN_OR_RETURN(checkpoint_key, crypto::Ed25519FromSeed(checkpoint_seed));
    return WritePublicKeys();
  }

  Status CreateFresh() {
    master_keys[1] = crypto::RandomBytes(crypto::kAeadKeyBytes);
    master_key_created[1] = clock->NowSeconds();
    blind_index_key = crypto::RandomBytes(32);
    checkpoint_seed = crypto::RandomBytes(32);
    RAMPART_ASSIGN_OR_RETURN(checkpoint_key, crypto::Ed25519FromSeed(checkpoint_seed));
    RAMPART_RETURN_IF_ERROR(Save());
    return WritePublicKeys();
  }

  static Status Derive(InstitutionKey& key) {
    RAMPART_ASSIGN_OR_RETURN(auto kp, crypto::Ed25519FromSeed(key.seed));
    key.public_key = kp.public_key;
    key.secret_key = kp.secret_key;
    return Status::Ok();
  }

  // The checkpoint public key beside the audit log, for `rampart audit verify`. An auditor keeps
  // a copy elsewhere too: this one is only as safe as the host.
  Status WritePublicKeys() {
    RAMPART_RETURN_IF_ERROR(files::EnsurePrivateDirectory(options.key_dir + "/audit"));
    return files::WritePrivateFile(options.key_dir + "/audit/checkpoint.pub",
                                   crypto::HexEncode(checkpoint_key.public_key) + "\n");
  }

  Status Save() {
    json doc;
    doc["format"] = 1;
    json mks = json::array();
    for (const auto& [version, key] : master_keys) {
      mks.push_back({{"version", version},
                     {"key", crypto::HexEncode(key)},
                     {"created_at", master_key_created[version]}});
    }
    doc["master_keys"] = std::move(mks);
    doc["blind_index_key"] = crypto::HexEncode(blind_index_key);
    doc["checkpoint_seed"] = crypto::HexEncode(checkpoint_seed);
    json insts = json::object();
    for (const auto& [institution, ik] : institutions) {
      json keys = json::array();
      for (const auto& k : ik.keys) {
        keys.push_back({{"key_id", k.key_id},
                        {"seed", crypto::HexEncode(k.seed)},
                        {"created_at", k.created_at}});
      }
      json rots = json::array();
      for (const auto& r : ik.rotations) {
        rots.push_back({{"old_key_id", r.fields.old_key_id},
                        {"new_key_id", r.fields.new_key_id},
                        {"new_public_key", r.fields.new_public_key_b64},
                        {"issued_at", r.fields.issued_at},
                        {"signature", crypto::HexEncode(r.signature)}});
      }
      insts[institution] = {{"keys", std::move(keys)}, {"rotations", std::move(rots)}};
    }
    doc["institutions"] = std::move(insts);
    return files::WritePrivateFile(KeysPath(), doc.dump(2) + "\n");
  }

  // Requires mu.
  MasterKeyStatus MasterStatus() {
    MasterKeyStatus out;
    out.current_version = master_keys.rbegin()->first;
    for (const auto& [version, key] : master_keys) {
      out.versions.push_back({version, master_key_created[version]});
    }
    return out;
  }

  // Requires mu.
  Result<InstitutionKeys*> KeysFor(const std::string& institution_id) {
    RAMPART_RETURN_IF_ERROR(CheckField(institution_id, "institution_id", true));
    auto it = institutions.find(institution_id);
    if (it != institutions.end() && !it->second.keys.empty()) return &it->second;
    InstitutionKey key;
    key.key_id = core::NewId("ck");
    key.seed = crypto::RandomBytes(32);
    key.created_at = clock->NowSeconds();
    RAMPART_RETURN_IF_ERROR(Derive(key));
    InstitutionKeys& ik = institutions[institution_id];
    ik.keys.push_back(std::move(key));
    Status saved = Save();
    if (!saved.ok()) {
      ik.keys.pop_back();
      return saved;
    }
    return &ik;
  }

  // Requires mu. Spends `n` from the principal's bucket, or nothing.
  Status SpendBudget(const Caller& caller, int64_t n, int64_t now) {
    auto limit_it = options.decrypt_budget_per_minute.find(caller.role);
    int64_t capacity = limit_it == options.decrypt_budget_per_minute.end() ? 0 : limit_it->second;
    if (capacity <= 0) {
      return Status::PermissionDenied("this role may not read staff personal data");
    }
    if (buckets.size() > 100000) {
      // Drop full buckets: a principal absent for a minute has a full bucket anyway.
      for (auto it = buckets.begin(); it != buckets.end();) {
        it = now - it->second.updated_at >= 60 ? buckets.erase(it) : std::next(it);
      }
    }
    std::string key = caller.role + "\n" + caller.principal;
    auto [it, inserted] = buckets.try_emplace(key);
    Bucket& b = it->second;
    if (inserted) {
      b.tokens = static_cast<double>(capacity);
      b.updated_at = now;
    }
    double refill = static_cast<double>(now - b.updated_at) * static_cast<double>(capacity) / 60.0;
    b.tokens = std::min(static_cast<double>(capacity), b.tokens + std::max(0.0, refill));
    b.updated_at = now;
    if (static_cast<double>(n) > b.tokens) {
      return Status::ResourceExhausted("staff-data read budget used up (" +
                                       std::to_string(capacity) + " records per minute)");
    }
    b.tokens -= static_cast<double>(n);
    return Status::Ok();
  }

  Result<audit::Record> Audit(const Caller& caller, std::string action, std::string target,
                              std::string outcome, std::string institution_id, json details,
                              std::string severity = "info") {
    audit::Record r;
    r.actor = caller.principal.empty() ? "unknown" : caller.principal;
    r.action = std::move(action);
    r.target = std::move(target);
    r.outcome = std::move(outcome);
    r.institution_id = std::move(institution_id);
    r.request_id = caller.request_id;
    r.source_ip = caller.source_ip;
    r.severity = std::move(severity);
    if (!caller.role.empty()) details["role"] = caller.role;
    if (!caller.purpose.empty()) details["purpose"] = caller.purpose;
    r.details_json = details.dump(-1, ' ', false, json::error_handler_t::replace);
    return trail->Append(r);
  }
  // A refusal: written to the log with its reason (best effort: the caller is refused either
  // way), and returned.
  Status Deny(const Caller& caller, const std::string& action, const std::string& target,
              const std::string& institution_id, json details, Status why) {
    details["reason"] = why.message();
    Audit(caller, action, target, "denied", institution_id, std::move(details), "warning")
        .status()
        .IgnoreError();
    return why;
  }
};

KeeperService::KeeperService(std::unique_ptr<State> state) : state_(std::move(state)) {}
KeeperService::~KeeperService() = default;

Result<std::unique_ptr<KeeperService>> KeeperService::Open(KeeperOptions options, AuditTrail* trail,
                                                           const Clock* clock) {
  if (trail == nullptr || clock == nullptr) {
    return Status::InvalidArgument("keeper needs an audit trail and a clock");
  }
  RAMPART_RETURN_IF_ERROR(files::EnsurePrivateDirectory(options.key_dir));
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  state->trail = trail;
  state->clock = clock;
  RAMPART_RETURN_IF_ERROR(state->Load());
  return std::unique_ptr<KeeperService>(new KeeperService(std::move(state)));
}

Result<SealedStaff> KeeperService::Seal(const SealRequest& request) {
  RAMPART_RETURN_IF_ERROR(CheckField(request.institution_id, "institution_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(request.staff_id, "staff_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(request.fields.name, "name", false));
  RAMPART_RETURN_IF_ERROR(CheckField(request.fields.mobile, "mobile", false));
  RAMPART_RETURN_IF_ERROR(CheckField(request.fields.email, "email", false));
  State& s = *state_;
  std::string master;
  int64_t version = 0;
  std::string index_key;
  {
    std::lock_guard lock(s.mu);
    version = s.master_keys.rbegin()->first;
    master = s.master_keys.rbegin()->second;
    index_key = s.blind_index_key;
  }
  json plain = {{"n", request.fields.name},
                {"m", request.fields.mobile},
                {"e", request.fields.email},
                {"c", request.canary ? 1 : 0}};
  // Padded to a multiple of 128 bytes so that a ciphertext's length tells neither the length of
  // the name nor whether the record is a canary.
  // Field values were checked for length only; invalid UTF-8 must not throw here.
  const auto kReplace = json::error_handler_t::replace;
  std::string text = plain.dump(-1, ' ', false, kReplace);
  size_t padded = (text.size() + 8 + 127) / 128 * 128;
  plain["p"] = std::string(padded - text.size() - 8, ' ');
  std::string ad = StaffAssociatedData(request.institution_id, request.staff_id);
  std::string data_key = crypto::RandomBytes(crypto::kAeadKeyBytes);
  SealedStaff out;
  RAMPART_ASSIGN_OR_RETURN(out.ciphertext,
                           crypto::AeadSeal(data_key, plain.dump(-1, ' ', false, kReplace), ad));
  RAMPART_ASSIGN_OR_RETURN(
      out.wrapped_key,
      crypto::AeadSeal(master, data_key,
                       WrapAssociatedData(request.institution_id, request.staff_id, version)));
  out.key_version = version;
  std::string mobile = NormalizeMobile(request.fields.mobile);
  std::string email = NormalizeEmail(request.fields.email);
  if (!mobile.empty()) {
    out.mobile_index =
        crypto::HmacSha256Hex(index_key, request.institution_id + "\nmobile\n" + mobile);
  }
  if (!email.empty()) {
    out.email_index =
        crypto::HmacSha256Hex(index_key, request.institution_id + "\nemail\n" + email);
  }
  out.masked = {MaskName(request.fields.name), MaskMobile(request.fields.mobile),
                MaskEmail(request.fields.email)};
  return out;
}

Result<std::vector<OpenedStaff>> KeeperService::Open(const OpenRequest& request) {
  State& s = *state_;
  const Caller& caller = request.caller;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  RAMPART_RETURN_IF_ERROR(CheckField(caller.purpose, "caller.purpose", true));
  if (request.records.size() > kMaxRecordsPerOpen) {
    return Status::InvalidArgument("too many records in one request");
  }
  int64_t now = s.clock->NowSeconds();
  const bool is_export = caller.purpose == "staff.export";
  std::string export_institution;
  if (is_export) {
    if (caller.role != "admin" && caller.role != "superadmin") {
      return Status::PermissionDenied("only admins export staff data");
    }
    if (request.approved_by.empty() || request.approved_by == caller.principal) {
      return Status::PermissionDenied("an export needs a second admin's approval");
    }
    for (const auto& r : request.records) {
      if (!export_institution.empty() && r.institution_id != export_institution) {
        return Status::InvalidArgument("an export covers one institution");
      }
      export_institution = r.institution_id;
    }
  }
  std::map<int64_t, std::string> master_keys;
  Status budget;
  {
    std::lock_guard lock(s.mu);
    auto n = static_cast<int64_t>(request.records.size());
    budget = is_export ? s.SpendExport(export_institution, n, now) : s.SpendBudget(caller, n, now);
    master_keys = s.master_keys;
  }
  json ids = json::array();
  std::string institution = caller.institution_id;
  for (const auto& r : request.records) {
    ids.push_back(r.staff_id);
    if (institution.empty()) institution = r.institution_id;
  }
  if (!budget.ok()) {
    s.Audit(caller, "staff.decrypt", "", "denied", institution,
            {{"count", request.records.size()}, {"staff_ids", ids}, {"reason", budget.message()}},
            "warning")
        .status()
        .IgnoreError();
    return budget;
  }
  std::vector<OpenedStaff> out;
  out.reserve(request.records.size());
  std::vector<const SealedRef*> canaries;
  for (const auto& r : request.records) {
    if (!caller.institution_id.empty() && r.institution_id != caller.institution_id) {
      return Status::PermissionDenied("record belongs to another institution");
    }
    auto master = master_keys.find(r.key_version);
    if (master == master_keys.end()) return Status::InvalidArgument("unknown master key version");
    std::string ad = StaffAssociatedData(r.institution_id, r.staff_id);
    auto data_key =
        crypto::AeadOpen(master->second, r.wrapped_key,
                         WrapAssociatedData(r.institution_id, r.staff_id, r.key_version));
    if (!data_key.ok()) return Status::InvalidArgument("record " + r.staff_id + " does not open");
    auto plain = crypto::AeadOpen(*data_key, r.ciphertext, ad);
    if (!plain.ok()) return Status::InvalidArgument("record " + r.staff_id + " does not open");
    json doc = json::parse(*plain, nullptr, false);
    if (!doc.is_object()) return Status::Internal("record " + r.staff_id + " is corrupt");
    OpenedStaff opened;
    opened.staff_id = r.staff_id;
    opened.fields.name = doc.value("n", "");
    opened.fields.mobile = doc.value("m", "");
    opened.fields.email = doc.value("e", "");
    opened.canary = doc.value("c", 0) == 1;
    // An approved export reads the whole directory, decoys included: serve leaves the canaries
    // out of the file, and the export itself is on record with both admins' names.
    if (opened.canary && !is_export) canaries.push_back(&r);
    out.push_back(std::move(opened));
  }
  // Every read is on record before any plaintext leaves the keeper: no audit, no data.
  json details = {{"count", request.records.size()}, {"staff_ids", ids}};
  if (is_export) details["approved_by"] = request.approved_by;
  RAMPART_RETURN_IF_ERROR(s.Audit(caller, "staff.decrypt",
                                  request.records.size() == 1 ? request.records[0].staff_id : "",
                                  "success", institution, details, is_export ? "warning" : "info")
                              .status());
  for (const SealedRef* r : canaries) {
    RAMPART_RETURN_IF_ERROR(s.Audit(caller, "staff.canary_read", r->staff_id, "success",
                                    r->institution_id, json::object(), "critical")
                                .status());
  }
  return out;
}

Result<std::string> KeeperService::BlindIndex(const std::string& institution_id,
                                              const std::string& field, const std::string& value) {
  RAMPART_RETURN_IF_ERROR(CheckField(institution_id, "institution_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(value, "value", true));
  std::string normalized;
  if (field == "mobile") {
    normalized = NormalizeMobile(value);
  } else if (field == "email") {
    normalized = NormalizeEmail(value);
  } else {
    return Status::InvalidArgument("blind indexes exist for mobile and email only");
  }
  if (normalized.empty()) return Status::InvalidArgument(field + " is empty once normalised");
  std::lock_guard lock(state_->mu);
  return crypto::HmacSha256Hex(state_->blind_index_key,
                               institution_id + "\n" + field + "\n" + normalized);
}

Result<CommandKey> KeeperService::GetCommandKey(const std::string& institution_id) {
  std::lock_guard lock(state_->mu);
  RAMPART_ASSIGN_OR_RETURN(InstitutionKeys * ik, state_->KeysFor(institution_id));
  const InstitutionKey& k = ik->keys.back();
  return CommandKey{institution_id, k.key_id, k.public_key, k.created_at};
}

Result<CommandSignature> KeeperService::SignCommand(const SignCommandRequest& request) {
  State& s = *state_;
  const Caller& caller = request.caller;
  const core::CommandSignatureFields& f = request.fields;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  RAMPART_RETURN_IF_ERROR(CheckField(f.device_id, "device_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(f.command_id, "command_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(f.type, "type", true));
  if (!core::ParseCommandType(f.type).has_value()) {
    return Status::InvalidArgument("unknown command type");
  }
  if (f.payload_sha256_hex.size() != 64 || f.seq <= 0 || f.expires_at <= 0 ||
      request.batch_size <= 0) {
    return Status::InvalidArgument("command fields are incomplete");
  }
  int64_t now = s.clock->NowSeconds();
  json details = {{"device_id", f.device_id},
                  {"type", f.type},
                  {"seq", f.seq},
                  {"batch_size", request.batch_size}};
  if (!request.approved_by.empty()) details["approved_by"] = request.approved_by;
  auto deny = [&](Status why) {
    return s.Deny(caller, "command.sign", f.command_id, request.institution_id, details,
                  std::move(why));
  };
  bool approved = !request.approved_by.empty() && request.approved_by != caller.principal;
  if (!request.approved_by.empty() && !approved) {
    return deny(Status::PermissionDenied("an admin cannot approve their own command"));
  }
  bool destructive = IsDestructiveType(f.type);
  if (destructive && !approved) {
    return deny(Status::PermissionDenied(f.type + " needs a second admin's approval"));
  }
  if (!IsCatalogueType(f.type) && request.batch_size > s.options.mass_command_threshold &&
      !approved) {
    return deny(Status::PermissionDenied("a command to more than " +
                                         std::to_string(s.options.mass_command_threshold) +
                                         " devices needs a second admin's approval"));
  }
  CommandSignature out;
  bool over_limit = false;
  {
    std::lock_guard lock(s.mu);
    if (destructive) {
      auto& times = s.destructive_signatures[request.institution_id];
      while (!times.empty() && times.front() <= now - 3600) times.pop_front();
      over_limit = static_cast<int64_t>(times.size()) >= s.options.max_destructive_per_hour;
      if (!over_limit) times.push_back(now);
    }
    if (!over_limit) {
      RAMPART_ASSIGN_OR_RETURN(InstitutionKeys * ik, s.KeysFor(request.institution_id));
      const InstitutionKey& k = ik->keys.back();
      RAMPART_ASSIGN_OR_RETURN(out.signature,
                               crypto::SignEd25519(k.secret_key, core::CommandSigningString(f)));
      out.key_id = k.key_id;
    }
  }
  // Audited outside the lock: appending does file I/O.
  if (over_limit) {
    return deny(Status::ResourceExhausted("destructive command limit reached (" +
                                          std::to_string(s.options.max_destructive_per_hour) +
                                          " per hour per institution)"));
  }
  details["key_id"] = out.key_id;
  RAMPART_RETURN_IF_ERROR(s.Audit(caller, "command.sign", f.command_id, "success",
                                  request.institution_id, details, destructive ? "warning" : "info")
                              .status());
  return out;
}

Result<KeyRotation> KeeperService::RotateCommandKey(const Caller& caller,
                                                    const std::string& institution_id) {
  State& s = *state_;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  KeyRotation rotation;
  {
    std::lock_guard lock(s.mu);
    RAMPART_ASSIGN_OR_RETURN(InstitutionKeys * ik, s.KeysFor(institution_id));
    InstitutionKey next;
    next.key_id = core::NewId("ck");
    next.seed = crypto::RandomBytes(32);
    next.created_at = s.clock->NowSeconds();
    RAMPART_RETURN_IF_ERROR(State::Derive(next));
    const InstitutionKey& old = ik->keys.back();
    rotation.fields = {institution_id, old.key_id, next.key_id,
                       crypto::Base64Encode(next.public_key), next.created_at};
    RAMPART_ASSIGN_OR_RETURN(
        rotation.signature,
        crypto::SignEd25519(old.secret_key, core::KeyRotationSigningString(rotation.fields)));
    ik->keys.push_back(std::move(next));
    ik->rotations.push_back(rotation);
    Status saved = s.Save();
    if (!saved.ok()) {
      ik->keys.pop_back();
      ik->rotations.pop_back();
      return saved;
    }
  }
  s.Audit(caller, "command_key.rotate", rotation.fields.new_key_id, "success", institution_id,
          {{"old_key_id", rotation.fields.old_key_id}}, "warning")
      .status()
      .IgnoreError();
  return rotation;
}

Result<std::vector<KeyRotation>> KeeperService::KeyRotations(const std::string& institution_id) {
  std::lock_guard lock(state_->mu);
  auto it = state_->institutions.find(institution_id);
  if (it == state_->institutions.end()) return std::vector<KeyRotation>{};
  return it->second.rotations;
}

Result<audit::Record> KeeperService::AppendAudit(const audit::Record& record) {
  if (record.action.empty() || record.action.size() > 64 || record.actor.size() > 128 ||
      record.target.size() > 128 || record.outcome.size() > 32 ||
      record.institution_id.size() > 64 || record.request_id.size() > 128 ||
      record.source_ip.size() > 64 || record.details_json.size() > 16 * 1024) {
    return Status::InvalidArgument("audit record field out of bounds");
  }
  if (record.severity != "info" && record.severity != "warning" && record.severity != "critical") {
    return Status::InvalidArgument("audit severity must be info, warning or critical");
  }
  json details = json::parse(record.details_json, nullptr, false);
  if (!details.is_object()) return Status::InvalidArgument("audit details must be a JSON object");
  return state_->trail->Append(record);
}

Result<Checkpoint> KeeperService::MakeCheckpoint() {
  crypto::Ed25519KeyPair key;
  {
    std::lock_guard lock(state_->mu);
    key = state_->checkpoint_key;
  }
  return state_->trail->MakeCheckpoint(
      [key](std::string_view message) { return crypto::SignEd25519(key.secret_key, message); });
}

Result<std::string> KeeperService::CheckpointPublicKey() {
  std::lock_guard lock(state_->mu);
  return state_->checkpoint_key.public_key;
}

Status ValidateAuditQuery(const AuditQuery& q) {
  if (q.limit < 1 || q.limit > kMaxAuditQueryPage) {
    return Status::InvalidArgument("limit must be 1.." + std::to_string(kMaxAuditQueryPage));
  }
  if (q.cursor < 0) return Status::InvalidArgument("cursor must not be negative");
  if (q.action_prefixes.size() > kMaxAuditQueryFilterValues ||
      q.actors.size() > kMaxAuditQueryFilterValues ||
      q.source_ips.size() > kMaxAuditQueryFilterValues) {
    return Status::InvalidArgument("too many filter values");
  }
  for (const auto* list : {&q.action_prefixes, &q.actors, &q.source_ips}) {
    for (const auto& v : *list) {
      if (v.size() > 128) return Status::InvalidArgument("filter value longer than 128 bytes");
    }
  }
  if (q.institution_id.size() > 64) return Status::InvalidArgument("institution_id too long");
  return Status::Ok();
}

bool AuditQueryMatches(const AuditQuery& q, const audit::Record& r) {
  auto any_of = [](const std::vector<std::string>& wanted, auto&& match) {
    if (wanted.empty()) return true;
    for (const auto& w : wanted) {
      if (match(w)) return true;
    }
    return false;
  };
  return (q.since == 0 || r.time >= q.since) && (q.until == 0 || r.time <= q.until) &&
         (q.institution_id.empty() || r.institution_id == q.institution_id) &&
         any_of(q.action_prefixes, [&](const std::string& p) { return r.action.starts_with(p); }) &&
         any_of(q.actors, [&](const std::string& a) { return r.actor == a; }) &&
         any_of(q.source_ips, [&](const std::string& ip) { return r.source_ip == ip; });
}

Result<AuditPage> KeeperService::QueryAudit(const AuditQuery& q) {
  RAMPART_RETURN_IF_ERROR(ValidateAuditQuery(q));
  AuditPage page;
  int64_t next = q.cursor;
  int64_t scanned = 0;
  constexpr int64_t kChunk = 2000;
  while (scanned < kMaxAuditQueryScan) {
    RAMPART_ASSIGN_OR_RETURN(auto chunk, state_->trail->Read(next, kChunk));
    if (chunk.empty()) {
      next = -1;
      break;
    }
    bool full = false;
    for (auto& r : chunk) {
      next = r.index + 1;
      ++scanned;
      // A caller bound to an institution sees its own records and server-wide ones (blocks,
      // server lockdowns), never another institution's, whatever filter it asked for.
      bool visible = q.caller.institution_id.empty() || r.institution_id.empty() ||
                     r.institution_id == q.caller.institution_id;
      if (visible && AuditQueryMatches(q, r)) page.records.push_back(std::move(r));
      if (static_cast<int64_t>(page.records.size()) >= q.limit || scanned >= kMaxAuditQueryScan) {
        full = true;
        break;
      }
    }
    if (full) break;
  }
  // Who read the log, and how much: reading the record of others' reads is itself on record.
  json details = {{"cursor", q.cursor},
                  {"returned", page.records.size()},
                  {"action_prefixes", q.action_prefixes},
                  {"since", q.since},
                  {"until", q.until}};
  RAMPART_RETURN_IF_ERROR(
      state_->Audit(q.caller, "audit.query", "", "success", q.institution_id, details).status());
  page.next_cursor = next;
  return page;
}

Result<std::vector<AuditProof>> KeeperService::ProveAudit(const AuditProofRequest& request) {
  RAMPART_RETURN_IF_ERROR(CheckField(request.caller.principal, "caller.principal", true));
  if (request.indexes.size() > kMaxAuditProofsPerCall) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxAuditProofsPerCall) +
                                   " proofs per call");
  }
  if (request.tree_size <= 0) return Status::InvalidArgument("tree_size must be positive");
  for (int64_t index : request.indexes) {
    if (index < 0 || index >= request.tree_size) {
      return Status::InvalidArgument("index " + std::to_string(index) + " is outside the tree");
    }
  }
  json details = {{"tree_size", request.tree_size}, {"count", request.indexes.size()}};
  if (!MayReadAudit(request.caller)) {
    return state_->Deny(request.caller, "audit.prove", "", request.caller.institution_id, details,
                        Status::PermissionDenied("this role may not read the audit log"));
  }
  RAMPART_ASSIGN_OR_RETURN(std::vector<AuditProof> out,
                           state_->trail->Prove(request.indexes, request.tree_size));
  RAMPART_RETURN_IF_ERROR(state_
                              ->Audit(request.caller, "audit.prove", "", "success",
                                      request.caller.institution_id, details)
                              .status());
  return out;
}

Result<std::string> KeeperService::SignEvidence(const SignEvidenceRequest& request) {
  State& s = *state_;
  const Caller& caller = request.caller;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  RAMPART_RETURN_IF_ERROR(CheckField(request.bundle_id, "bundle_id", true));
  RAMPART_RETURN_IF_ERROR(CheckField(request.institution_id, "institution_id", false));
  if (!request.bundle_id.starts_with("evb_") || request.bundle_id.size() > 64) {
    return Status::InvalidArgument("bundle_id must be an evb_ id");
  }
  if (request.manifest_sha256_hex.size() != 64 || !IsLowerHex(request.manifest_sha256_hex)) {
    return Status::InvalidArgument("manifest_sha256 must be 64 lower-case hex digits");
  }
  json details = {{"manifest_sha256", request.manifest_sha256_hex}};
  auto deny = [&](Status why) {
    return s.Deny(caller, "evidence.sign", request.bundle_id, request.institution_id, details,
                  std::move(why));
  };
  if (!MayCaptureEvidence(caller)) {
    return deny(Status::PermissionDenied("this role may not capture evidence"));
  }
  if (!caller.institution_id.empty() && request.institution_id != caller.institution_id) {
    return deny(Status::PermissionDenied("the bundle belongs to another institution"));
  }
  crypto::Ed25519KeyPair key;
  {
    std::lock_guard lock(s.mu);
    key = s.checkpoint_key;
  }
  RAMPART_ASSIGN_OR_RETURN(std::string signature,
                           crypto::SignEd25519(key.secret_key, core::EvidenceSigningString(
                                                                   request.manifest_sha256_hex)));
  // On record before the signature leaves: no audit, no signature.
  RAMPART_RETURN_IF_ERROR(s.Audit(caller, "evidence.sign", request.bundle_id, "success",
                                  request.institution_id, details, "warning")
                              .status());
  return signature;
}

Result<MasterKeyStatus> KeeperService::RotateMasterKey(const Caller& caller) {
  State& s = *state_;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  if (!MayManageMasterKeys(caller)) {
    return s.Deny(caller, "master_key.rotate", "", "", json::object(),
                  Status::PermissionDenied("only a superadmin rotates the master key"));
  }
  const int64_t now = s.clock->NowSeconds();
  MasterKeyStatus out;
  Status refused;
  int64_t previous = 0;
  {
    std::lock_guard lock(s.mu);
    previous = s.master_keys.rbegin()->first;
    const int64_t last = s.master_key_created[previous];
    // Version 1 came with the installation, not from a rotation: it does not hold the next one.
    if (previous > 1 && last > now - kMasterKeyRotationInterval) {
      refused =
          Status::ResourceExhausted("the master key was rotated less than an hour ago (version " +
                                    std::to_string(previous) + ")");
    } else {
      const int64_t next = previous + 1;
      s.master_keys[next] = crypto::RandomBytes(crypto::kAeadKeyBytes);
      s.master_key_created[next] = now;
      // On disk before anything is wrapped under it: a key lost in a crash would leave rows
      // no one can open.
      if (Status saved = s.Save(); !saved.ok()) {
        s.master_keys.erase(next);
        s.master_key_created.erase(next);
        return saved;
      }
      out = s.MasterStatus();
    }
  }
  if (!refused.ok()) {
    return s.Deny(caller, "master_key.rotate", "", "", {{"current_version", previous}},
                  std::move(refused));
  }
  // The key is on disk and current; a lost audit record must not hide that, so it fails the
  // call (the caller sees the error, GetMasterKeyStatus the new version).
  RAMPART_RETURN_IF_ERROR(
      s.Audit(caller, "master_key.rotate", "v" + std::to_string(out.current_version), "success", "",
              {{"old_version", previous}, {"new_version", out.current_version}}, "warning")
          .status());
  return out;
}

Result<std::vector<RewrappedKey>> KeeperService::RewrapKeys(const RewrapRequest& request) {
  State& s = *state_;
  const Caller& caller = request.caller;
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  if (request.records.size() > kMaxRewrapPerCall) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxRewrapPerCall) +
                                   " records per re-wrap");
  }
  if (!MayManageMasterKeys(caller)) {
    return s.Deny(caller, "master_key.rewrap", "", caller.institution_id,
                  {{"count", request.records.size()}},
                  Status::PermissionDenied("only a superadmin re-wraps data keys"));
  }
  std::map<int64_t, std::string> master_keys;
  {
    std::lock_guard lock(s.mu);
    master_keys = s.master_keys;
  }
  const int64_t current = master_keys.rbegin()->first;
  const std::string& current_key = master_keys.rbegin()->second;
  std::vector<RewrappedKey> out;
  out.reserve(request.records.size());
  std::map<int64_t, int64_t> from_versions;  // version → records moved from it
  int64_t rewrapped = 0;
  int64_t failed = 0;
  for (const auto& r : request.records) {
    RewrappedKey result;
    result.staff_id = r.staff_id;
    auto fail = [&](std::string why) {
      result.error = std::move(why);
      ++failed;
      out.push_back(std::move(result));
    };
    if (!CheckField(r.institution_id, "institution_id", true).ok() ||
        !CheckField(r.staff_id, "staff_id", true).ok()) {
      fail("record names no institution or staff id");
      continue;
    }
    if (!caller.institution_id.empty() && r.institution_id != caller.institution_id) {
      fail("record belongs to another institution");
      continue;
    }
    if (r.key_version == current) {
      result.ok = true;
      result.wrapped_key = r.wrapped_key;
      result.key_version = current;
      out.push_back(std::move(result));
      continue;
    }
    auto master = master_keys.find(r.key_version);
    if (master == master_keys.end()) {
      fail("unknown master key version");
      continue;
    }
    auto data_key =
        crypto::AeadOpen(master->second, r.wrapped_key,
                         WrapAssociatedData(r.institution_id, r.staff_id, r.key_version));
    if (!data_key.ok()) {
      fail("the wrapped key does not open");
      continue;
    }
    auto wrapped = crypto::AeadSeal(current_key, *data_key,
                                    WrapAssociatedData(r.institution_id, r.staff_id, current));
    if (!wrapped.ok()) {
      fail("the data key could not be wrapped");
      continue;
    }
    result.ok = true;
    result.wrapped_key = std::move(wrapped).value();
    result.key_version = current;
    ++from_versions[r.key_version];
    ++rewrapped;
    out.push_back(std::move(result));
  }
  json from = json::object();
  for (const auto& [version, n] : from_versions) from[std::to_string(version)] = n;
  // On record before any new wrapped key leaves: no audit, no re-wrap.
  RAMPART_RETURN_IF_ERROR(s.Audit(caller, "master_key.rewrap", "v" + std::to_string(current),
                                  failed == 0 ? "success" : "failure", caller.institution_id,
                                  {{"count", request.records.size()},
                                   {"rewrapped", rewrapped},
                                   {"failed", failed},
                                   {"from_versions", std::move(from)},
                                   {"to_version", current}},
                                  failed == 0 ? "info" : "warning")
                              .status());
  return out;
}

Result<MasterKeyStatus> KeeperService::GetMasterKeyStatus(const Caller& caller) {
  RAMPART_RETURN_IF_ERROR(CheckField(caller.principal, "caller.principal", true));
  std::lock_guard lock(state_->mu);
  return state_->MasterStatus();
}

Status KeeperService::RetireMasterKey(const std::string& key_dir, int64_t version,
                                      const Clock& clock) {
  auto state = std::make_unique<State>();
  state->options.key_dir = key_dir;
  state->clock = &clock;
  auto text = files::ReadWholeFile(state->KeysPath(), kMaxKeysFileBytes);
  if (!text.ok()) {
    return text.status().code() == Code::kNotFound ? Status::NotFound("no keys.json in " + key_dir)
                                                   : text.status();
  }
  // A running keeper holds its keys in memory and would write the retired key back at its next
  // save: its audit log's lock (audit/log.h) says whether one runs.
  const std::string lock_path = key_dir + "/audit/LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Internal("cannot open " + lock_path);
  struct LockCloser {
    int fd;
    ~LockCloser() { ::close(fd); }
  } closer{lock_fd};
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::Conflict("a keeper is running on " + key_dir + ": stop it first");
  }
  RAMPART_RETURN_IF_ERROR(state->Load());
  if (state->master_keys.find(version) == state->master_keys.end()) {
    return Status::NotFound("the keeper holds no master key version " + std::to_string(version));
  }
  if (version == state->master_keys.rbegin()->first) {
    return Status::InvalidArgument("version " + std::to_string(version) +
                                   " is the current master key: rotate first");
  }
  state->master_keys.erase(version);
  state->master_key_created.erase(version);
  return state->Save();
}

namespace {

// The first UTF-8 code point of `s` (a lead byte and its continuation bytes).
std::string_view FirstCodePoint(std::string_view s) {
  if (s.empty()) return s;
  size_t n = 1;
  while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
  return s.substr(0, n);
}

}  // namespace

std::string MaskName(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i < name.size()) {
    while (i < name.size() && name[i] == ' ') ++i;
    size_t end = name.find(' ', i);
    if (end == std::string_view::npos) end = name.size();
    if (end > i) {
      if (!out.empty()) out += ' ';
      out += FirstCodePoint(name.substr(i, end - i));
      out += "***";
    }
    i = end;
  }
  return out;
}

std::string NormalizeMobile(std::string_view mobile) {
  std::string out;
  for (char c : mobile) {
    if ((c >= '0' && c <= '9') || (c == '+' && out.empty())) out += c;
  }
  return out == "+" ? "" : out;
}

std::string MaskMobile(std::string_view mobile) {
  std::string n = NormalizeMobile(mobile);
  bool plus = !n.empty() && n[0] == '+';
  std::string digits = plus ? n.substr(1) : n;
  if (digits.size() < 4) return digits.empty() ? "" : "***";
  std::string tail = digits.substr(digits.size() - 2);
  if (plus && digits.size() >= 9) {
    // "+32 4** *** *12": country code and the first digit of the number, the last two digits.
    return "+" + digits.substr(0, 2) + " " + digits.substr(2, 1) + "** *** *" + tail;
  }
  return "*** *** *" + tail;
}

std::string NormalizeEmail(std::string_view email) {
  size_t b = 0;
  size_t e = email.size();
  while (b < e && (email[b] == ' ' || email[b] == '\t')) ++b;
  while (e > b && (email[e - 1] == ' ' || email[e - 1] == '\t')) --e;
  std::string out(email.substr(b, e - b));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string MaskEmail(std::string_view email) {
  size_t at = email.rfind('@');
  if (email.empty()) return "";
  if (at == std::string_view::npos || at == 0) return "***";
  return std::string(FirstCodePoint(email)) + "***" + std::string(email.substr(at));
}

}  // namespace rampart::keeper
