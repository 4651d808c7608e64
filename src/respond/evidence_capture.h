// Evidence capture (issue 5): builds the signed evidence bundle of an incident from the running
// server and keeps it under DATA/evidence, for the route POST /api/v1/incidents/{id}/evidence
// and the playbook action capture_evidence.
//
//   EvidenceCollector collector(store, keeper, &clock, options);
//   RAMPART_ASSIGN_OR_RETURN(EvidenceBundleInfo info,
//                            collector.Capture(scope, "inc_...", caller));
//   // DATA/evidence/<info.bundle_id>.tar.gz (0600), checked by `rampart evidence verify`
//
// A bundle (respond/evidence.h) holds:
//   incident.json          the incident, its computed timeline and figures, its entries
//   alerts.json            its alerts, each with its evidence events
//   audit/records.jsonl    the audit records of the incident window (the leaf bytes the log
//                          hashed, one per line) up to the checkpoint below
//   audit/checkpoint.json  a checkpoint signed by the keeper for this bundle, with its message
//   audit/proofs.json      each record's RFC 6962 inclusion proof against that checkpoint
//   integrity.json         file-integrity differences from the baseline, scanned now
//   system.json            SHA-256 of the running binary and of the configuration file(s)
//                          (these two are server-level: only when the scope is all)
// and is signed through the keeper's sign_evidence. Each capture adds a note to the incident's
// timeline. Beside each archive, <bundle_id>.json records what it is (incident, institution,
// who, when, the archive's SHA-256): the listing reads these, never the archives.
//
// Thread-safe: captures are serialised (each one takes a checkpoint and reads the log).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "core/alert.h"
#include "core/incident.h"
#include "keeper/keeper.h"
#include "store/store.h"

namespace rampart::respond {

// Audit records one bundle carries at most; a longer window is cut and says so.
inline constexpr int64_t kMaxEvidenceAuditRecords = 20000;

struct EvidenceCaptureOptions {
  std::string data_dir;                   // bundles go to DATA/evidence (0700)
  std::vector<std::string> config_files;  // hashed into system.json; missing ones are named
  // The file-integrity baseline (detect::BaselinePath) and the paths its scans skip; "" when
  // file integrity is not configured (integrity.json says so).
  std::string integrity_baseline_file;
  std::vector<std::string> integrity_exclude;
  std::string binary_path = "/proc/self/exe";
  // The incident grouping window (config incidents.group_window_seconds), to find the incident
  // of an alert the same way the incident tracker does.
  int64_t incident_window_seconds = 24 * 3600;
};

struct EvidenceBundleInfo {
  std::string bundle_id;  // "evb_..."
  std::string incident_id;
  std::string institution_id;  // "" for a server-wide incident
  std::string created_by;      // principal, or "system" for playbooks
  int64_t created_at = 0;
  std::string sha256_hex;  // of the archive
  int64_t size = 0;
  int64_t audit_records = 0;
  int64_t tree_size = 0;       // of the checkpoint in the bundle
  bool audit_complete = true;  // false when the window held more than the bundle carries
};

struct EvidenceDownload {
  EvidenceBundleInfo info;
  std::string archive;
};

std::string EvidenceDir(const std::string& data_dir);  // DATA/evidence

class EvidenceCollector {
 public:
  // Nothing owned; all must outlive the collector.
  EvidenceCollector(store::Store* store, keeper::Keeper* keeper, const Clock* clock,
                    EvidenceCaptureOptions options);

  // Captures, signs and stores a bundle of the incident and notes it on the incident's
  // timeline. NotFound when the incident is not in scope; Unavailable when the keeper is down
  // (no bundle without its signature and proofs); PermissionDenied when the keeper refuses the
  // caller; ResourceExhausted when a bundle of the incident is less than a minute old;
  // Internal for a file that cannot be written.
  Result<EvidenceBundleInfo> Capture(const store::Scope& scope, const std::string& incident_id,
                                     const keeper::Caller& caller);
  // The bundles of an incident, newest first. NotFound when the incident is not in scope.
  Result<std::vector<EvidenceBundleInfo>> List(const store::Scope& scope,
                                               const std::string& incident_id);
  // One bundle, re-hashed against its record. NotFound when unknown or its incident is not in
  // scope; Internal when the archive no longer matches the hash recorded at capture.
  Result<EvidenceDownload> Read(const store::Scope& scope, const std::string& bundle_id);
  // The incident an alert belongs to (joining it as the incident tracker would, when the
  // tracker has not yet seen the alert). NotFound when the alert is not stored.
  Result<core::Incident> IncidentOfAlert(const core::Alert& alert);
  // Deletes the bundles of incidents closed at least retention_days ago (at `now`, Unix
  // seconds), each after its `evidence.prune` audit record is written. Bundles of incidents
  // the store does not know are kept. Returns the ids deleted; a bundle whose record or files
  // cannot be written or removed is left for the next pass and logged. Unavailable without a
  // keeper.
  Result<std::vector<std::string>> Prune(int64_t now, int64_t retention_days);

 private:
  Result<std::vector<EvidenceBundleInfo>> ListAll() const;

  store::Store* store_;
  keeper::Keeper* keeper_;
  const Clock* clock_;
  EvidenceCaptureOptions options_;
  std::mutex capture_mu_;  // one capture at a time
};

}  // namespace rampart::respond
