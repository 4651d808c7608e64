// The keeper: the only holder of Rampart's secrets (the staff-data master key, the blind-index
// key, the institutions' command-signing keys and the audit-checkpoint key).
//
// It runs as its own process (`rampart keeper`) beside the web-facing `rampart serve`, which
// reaches it through a Unix-domain socket (keeper/client.h) and never opens the keeper's key
// directory. A full compromise of serve therefore yields ciphertext, budget-limited decrypts
// that are each audited, and no way to sign a command a device would obey.
//
// Keeper is the interface serve programs against; KeeperService (keeper/service.h) implements
// it in-process (the keeper process, unit tests) and KeeperClient implements it over the socket.
// Every method is thread-safe. Errors: Unavailable (keeper down: callers fail closed),
// ResourceExhausted (a decrypt budget or signing limit is used up), PermissionDenied (the
// request lacks what policy requires, e.g. a second admin's approval), InvalidArgument.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "audit/record.h"
#include "common/status.h"
#include "core/command_signing.h"

namespace rampart::keeper {

// Who asks and why. Named in every decrypt and signature and written to the audit log.
struct Caller {
  std::string principal;       // "tok_...", "usr_...", or "system"
  std::string role;            // wire role name ("helpdesk", ...): decrypt budgets are per role
  std::string institution_id;  // the caller's institution; "" for cross-institution roles
  std::string request_id;
  std::string source_ip;
  std::string purpose;  // why the data is read: "staff.reveal", "staff.export", ...
};

// The personal fields of a staff record: stored only sealed.
struct StaffFields {
  std::string name;
  std::string mobile;
  std::string email;
};

struct SealRequest {
  Caller caller;
  std::string institution_id;
  std::string staff_id;
  StaffFields fields;
  bool canary = false;  // sealed inside the ciphertext: nobody but the keeper can tell
};

struct SealedStaff {
  std::string ciphertext;    // raw: 24-byte nonce || XChaCha20-Poly1305(fields), AD = record id
  std::string wrapped_key;   // raw: the record's data key sealed under the master key
  int64_t key_version = 0;   // which master key wrapped it
  std::string mobile_index;  // hex keyed blind index of the normalised mobile; "" when none
  std::string email_index;   // hex keyed blind index of the lower-cased email; "" when none
  StaffFields masked;        // display forms: "J*** D***", "+32 4** *** *12", "j***@example.org"
};

struct SealedRef {
  std::string institution_id;
  std::string staff_id;
  std::string ciphertext;
  std::string wrapped_key;
  int64_t key_version = 0;
};

struct OpenRequest {
  OpenRequest() = default;
  OpenRequest(Caller c, std::vector<SealedRef> r, std::string approver = "")
      : caller(std::move(c)), records(std::move(r)), approved_by(std::move(approver)) {}
  Caller caller;
  std::vector<SealedRef> records;
  // For purpose "staff.export" only: the second admin who approved the export. An approved
  // export draws on the institution's daily export allowance instead of the caller's budget.
  std::string approved_by;
};

struct OpenedStaff {
  std::string staff_id;
  StaffFields fields;
  // A canary record exists only to be read by an intruder. Serve learns this only after the
  // read (the keeper has already written a critical audit record), so that its detection engine
  // can raise the alert too.
  bool canary = false;
};

struct CommandKey {
  std::string institution_id;
  std::string key_id;      // "ck_..." — devices pin (key_id, public_key)
  std::string public_key;  // raw 32-byte Ed25519 public key
  int64_t created_at = 0;
};

struct SignCommandRequest {
  Caller caller;
  std::string institution_id;
  core::CommandSignatureFields fields;
  std::string approved_by;  // the second admin's principal; required for destructive commands
                            // and for batches above the mass-command threshold
  int64_t batch_size = 1;   // how many devices the admin action that created it targets
};

struct CommandSignature {
  std::string key_id;
  std::string signature;  // raw 64-byte Ed25519 signature over core::CommandSigningString
};

struct KeyRotation {
  core::KeyRotationFields fields;
  std::string signature;  // raw, by the old key over core::KeyRotationSigningString
};

struct Checkpoint {
  int64_t tree_size = 0;
  std::string root_hex;  // RFC 6962 Merkle tree head over records [0, tree_size)
  int64_t time = 0;
  std::string signature;  // raw Ed25519 by the audit-checkpoint key (audit/log.h says over what)
};

// A page of the audit log for incident figures (respond/): serve cannot open the keeper's
// folder, so it asks. Filters are ANDed; a list that is empty does not filter.
inline constexpr int64_t kMaxAuditQueryPage = 1000;
// Records one query call examines at most, matching or not: a filter that matches little
// cannot make one call read the whole log; the caller follows next_cursor.
inline constexpr int64_t kMaxAuditQueryScan = 100000;
inline constexpr size_t kMaxAuditQueryFilterValues = 64;

struct AuditQuery {
  Caller caller;                             // audited as "audit.query"
  int64_t since = 0;                         // record time >= since (Unix seconds); 0: no bound
  int64_t until = 0;                         // record time <= until; 0: no bound
  std::vector<std::string> action_prefixes;  // "staff.decrypt", "command.", "response."
  std::vector<std::string> actors;
  std::vector<std::string> source_ips;
  std::string institution_id;  // exact; "" any
  int64_t limit = 200;         // 1..kMaxAuditQueryPage
  int64_t cursor = 0;          // the index to resume from (0: the start of the log)
};

struct AuditPage {
  // Matching records in index order. Records carry no secrets or staff personal data in clear
  // by the audit contract (audit/record.h); nothing else (tree hashes, checkpoints) is returned.
  std::vector<audit::Record> records;
  int64_t next_cursor = -1;  // -1: the log was read to its end
};

// Signing an evidence bundle (respond/evidence.h). The keeper is given the manifest's SHA-256,
// never a message: it signs only core::EvidenceSigningString(manifest_sha256_hex), whose domain
// prefix no checkpoint message carries, so serve cannot make it sign a checkpoint.
struct SignEvidenceRequest {
  Caller caller;                    // audited as "evidence.sign"
  std::string bundle_id;            // "evb_..."
  std::string institution_id;       // the incident's institution; "" for a server-wide one
  std::string manifest_sha256_hex;  // 64 lower-case hex digits
};

// RFC 6962 inclusion proofs of audit records against the tree of the first tree_size records
// (a signed checkpoint's size), for evidence bundles: serve cannot read the keeper's tree.
inline constexpr size_t kMaxAuditProofsPerCall = 1000;

struct AuditProofRequest {
  Caller caller;  // audited as "audit.prove"
  int64_t tree_size = 0;
  std::vector<int64_t> indexes;  // each in [0, tree_size); at most kMaxAuditProofsPerCall
};

struct AuditProof {
  int64_t index = 0;
  std::string leaf_hash_hex;          // audit::LeafHash(audit::LeafBytes(record))
  std::vector<std::string> path_hex;  // audit::InclusionPath, nearest sibling first
};

// The staff-data master keys. Each record's data key is wrapped under one version; a rotation
// adds a version that wraps every new seal, and RewrapKeys moves existing records onto it.
// Old versions stay in the keeper until an operator retires one on the keeper host.
struct MasterKeyVersion {
  int64_t version = 0;
  int64_t created_at = 0;  // Unix seconds; 0 for a key made before creation times were kept
};

struct MasterKeyStatus {
  int64_t current_version = 0;             // the version that wraps new seals
  std::vector<MasterKeyVersion> versions;  // oldest first; the last is current
};

// A record's wrapped data key, for re-wrapping: no ciphertext, so no field is ever decrypted.
struct WrappedKeyRef {
  std::string institution_id;
  std::string staff_id;
  std::string wrapped_key;  // raw, as SealedStaff::wrapped_key
  int64_t key_version = 0;
};

inline constexpr size_t kMaxRewrapPerCall = 500;
// One rotation at most per this many seconds: each adds a key the keeper keeps until retired.
inline constexpr int64_t kMasterKeyRotationInterval = 3600;

struct RewrapRequest {
  Caller caller;                       // audited as "master_key.rewrap" (one record per call)
  std::vector<WrappedKeyRef> records;  // at most kMaxRewrapPerCall
};

// One answer per request record, in request order.
struct RewrappedKey {
  std::string staff_id;
  bool ok = false;
  std::string wrapped_key;  // raw; under key_version (unchanged when already current)
  int64_t key_version = 0;
  std::string error;  // why the record failed: its wrapped key did not open, ...
};

// The query's bounds (InvalidArgument naming what is wrong) and its filter, shared by every
// implementation so that the fakes of tests filter exactly as the keeper does.
Status ValidateAuditQuery(const AuditQuery& query);
bool AuditQueryMatches(const AuditQuery& query, const audit::Record& record);

class Keeper {
 public:
  virtual ~Keeper() = default;

  virtual Result<SealedStaff> Seal(const SealRequest& request) = 0;
  // Decrypts every record or none: ResourceExhausted when the caller's per-minute budget cannot
  // cover them all. Each record read is audited; a canary read is audited as critical.
  virtual Result<std::vector<OpenedStaff>> Open(const OpenRequest& request) = 0;
  // Keyed blind index of a lookup value ("mobile" or "email"), normalised as Seal does.
  virtual Result<std::string> BlindIndex(const std::string& institution_id,
                                         const std::string& field, const std::string& value) = 0;

  // The institution's current command key, created on first use.
  virtual Result<CommandKey> GetCommandKey(const std::string& institution_id) = 0;
  virtual Result<CommandSignature> SignCommand(const SignCommandRequest& request) = 0;
  // Moves the institution to a new command key; the rotation is signed by the old key.
  virtual Result<KeyRotation> RotateCommandKey(const Caller& caller,
                                               const std::string& institution_id) = 0;
  // Every rotation of the institution, oldest first, so a device pinned to any earlier key
  // can walk the chain to the current one.
  virtual Result<std::vector<KeyRotation>> KeyRotations(const std::string& institution_id) = 0;

  // Appends to the tamper-evident audit log; returns the record with index and time set.
  virtual Result<audit::Record> AppendAudit(const audit::Record& record) = 0;
  // Signs a checkpoint of the log as it stands now.
  virtual Result<Checkpoint> MakeCheckpoint() = 0;
  virtual Result<std::string> CheckpointPublicKey() = 0;  // raw 32 bytes
  // Reads the audit log. InvalidArgument for a limit out of range, a negative cursor or too many
  // filter values. Each call is itself audited ("audit.query").
  virtual Result<AuditPage> QueryAudit(const AuditQuery& query) = 0;
  // Inclusion proofs of records in the tree of request.tree_size records, in request order.
  // InvalidArgument for a size beyond the log, an index outside it or too many indexes;
  // PermissionDenied for a role that may not read the audit log. Audited ("audit.prove").
  virtual Result<std::vector<AuditProof>> ProveAudit(const AuditProofRequest& request) = 0;

  // The raw 64-byte Ed25519 signature of core::EvidenceSigningString(manifest_sha256_hex) by
  // the audit-checkpoint key. PermissionDenied for a role that may not capture evidence or an
  // institution-bound caller signing another institution's bundle; InvalidArgument for a
  // malformed id or digest. Audited ("evidence.sign") before the signature leaves the keeper.
  virtual Result<std::string> SignEvidence(const SignEvidenceRequest& request) = 0;

  // Adds master key version current+1 and makes it wrap every new seal; persisted before it is
  // used. Audited ("master_key.rotate"). PermissionDenied for a caller other than a superadmin
  // or the playbook engine ("system"); ResourceExhausted when the current key came from a
  // rotation less than kMasterKeyRotationInterval ago. Returns the status after the rotation.
  virtual Result<MasterKeyStatus> RotateMasterKey(const Caller& caller) = 0;
  // Unwraps each record's data key with its version's master key and wraps it under the
  // current version, bound to the record's id as Seal binds it. Fields are never decrypted: no
  // decrypt budget is spent and no personal data leaves. A record whose key does not open (or
  // whose version is unknown, or that belongs to another institution than an institution-bound
  // caller's) fails alone; the others go on. One audit record ("master_key.rewrap") per call.
  // InvalidArgument for more than kMaxRewrapPerCall records; PermissionDenied as RotateMasterKey.
  virtual Result<std::vector<RewrappedKey>> RewrapKeys(const RewrapRequest& request) = 0;
  // The versions the keeper holds and which one is current. Not audited: it reveals no key.
  virtual Result<MasterKeyStatus> GetMasterKeyStatus(const Caller& caller) = 0;
};

}  // namespace rampart::keeper
