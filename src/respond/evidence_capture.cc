#include "respond/evidence_capture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "audit/format.h"
#include "common/crypto.h"
#include "common/file_tree.h"
#include "common/files.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/command_signing.h"
#include "core/model.h"
#include "detect/alert_sinks.h"
#include "detect/file_integrity.h"
#include "respond/evidence.h"
#include "respond/incident.h"
#include "respond/report.h"

namespace rampart::respond {
namespace {

using nlohmann::json;

constexpr size_t kMaxInfoBytes = 64 * 1024;
constexpr size_t kMaxArchiveBytes = size_t{1} << 30;
// Bundles of one incident at most this often: each costs the keeper a pass over the audit tree
// and the disk an archive, and a fresh one a minute later adds little.
constexpr int64_t kMinCaptureSpacingSeconds = 60;
constexpr size_t kMaxBaselineBytes = size_t{2} << 30;

std::string Dump(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// "evb_" and lower-case hex, as core::NewId makes them: never a path.
bool ValidBundleId(std::string_view id) {
  if (!id.starts_with("evb_") || id.size() < 5 || id.size() > 64) return false;
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

json InfoToJson(const EvidenceBundleInfo& i) {
  return {{"bundle_id", i.bundle_id},
          {"incident_id", i.incident_id},
          {"institution_id", i.institution_id},
          {"created_by", i.created_by},
          {"created_at", i.created_at},
          {"sha256", i.sha256_hex},
          {"size", i.size},
          {"audit_records", i.audit_records},
          {"tree_size", i.tree_size},
          {"audit_complete", i.audit_complete}};
}

Result<EvidenceBundleInfo> InfoFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Internal("an evidence record is not JSON");
  try {
    EvidenceBundleInfo i;
    i.bundle_id = j.at("bundle_id").get<std::string>();
    i.incident_id = j.at("incident_id").get<std::string>();
    i.institution_id = j.at("institution_id").get<std::string>();
    i.created_by = j.at("created_by").get<std::string>();
    i.created_at = j.at("created_at").get<int64_t>();
    i.sha256_hex = j.at("sha256").get<std::string>();
    i.size = j.at("size").get<int64_t>();
    i.audit_records = j.at("audit_records").get<int64_t>();
    i.tree_size = j.at("tree_size").get<int64_t>();
    i.audit_complete = j.at("audit_complete").get<bool>();
    return i;
  } catch (const json::exception&) {
    return Status::Internal("an evidence record is missing a field");
  }
}

// SHA-256 of a file read in chunks (the binary can be large), following links
// (/proc/self/exe is one).
Result<json> HashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  crypto::Sha256Stream hash;
  std::string chunk(1 << 16, '\0');
  int64_t size = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    hash.Update(std::string_view(chunk.data(), static_cast<size_t>(n)));
    size += n;
  }
  if (in.bad()) return Status::Internal("cannot read " + path);
  return json{{"sha256", hash.FinishHex()}, {"size", size}};
}

json SystemJson(const EvidenceCaptureOptions& options, int64_t now) {
  json binary = {{"path", options.binary_path}};
  std::error_code ec;
  auto target = std::filesystem::read_symlink(options.binary_path, ec);
  if (!ec) binary["resolved_path"] = target.string();
  if (auto h = HashFile(options.binary_path); h.ok()) {
    binary.update(*h);
  } else {
    binary["error"] = h.status().message();
  }
  json configs = json::array();
  for (const auto& path : options.config_files) {
    json entry = {{"path", path}};
    if (auto h = HashFile(path); h.ok()) {
      entry.update(*h);
    } else {
      entry["error"] = h.status().message();
    }
    configs.push_back(std::move(entry));
  }
  return {{"captured_at", FormatRfc3339(now)}, {"binary", binary}, {"config_files", configs}};
}

json StateJson(const std::optional<files::FileState>& s) {
  if (!s) return nullptr;
  return {{"sha256", s->sha256}, {"size", s->size}, {"mode", files::ModeText(s->mode)}};
}

// What differs on disk from the file-integrity baseline, scanned at capture time.
json IntegrityJson(const EvidenceCaptureOptions& options, int64_t now) {
  if (options.integrity_baseline_file.empty()) {
    return {{"configured", false}, {"scanned_at", FormatRfc3339(now)}};
  }
  json out = {{"configured", true},
              {"baseline_file", options.integrity_baseline_file},
              {"scanned_at", FormatRfc3339(now)}};
  auto text = files::ReadWholeFile(options.integrity_baseline_file, kMaxBaselineBytes);
  if (!text.ok()) {
    out["error"] = "baseline unreadable: " + text.status().message();
    return out;
  }
  auto baseline = detect::ParseBaseline(*text);
  if (!baseline.ok()) {
    out["error"] = "baseline unreadable: " + baseline.status().message();
    return out;
  }
  files::TreeScan scan =
      files::ScanTrees(baseline->roots, options.integrity_exclude, /*with_links=*/true);
  json changes = json::array();
  for (const auto& c : files::DiffFileStates(baseline->files, scan.files)) {
    changes.push_back({{"path", files::EncodePath(c.path)},
                       {"change", std::string(files::ChangeKindName(c.kind))},
                       {"baseline", StateJson(c.before)},
                       {"now", StateJson(c.after)}});
  }
  out["baseline_created"] = FormatRfc3339(baseline->created);
  out["roots"] = baseline->roots;
  out["baseline_files"] = baseline->files.size();
  out["changes"] = std::move(changes);
  out["scan_errors"] = scan.errors;
  return out;
}

json AlertsJson(const std::vector<core::Alert>& alerts) {
  json out = json::array();
  for (const auto& a : alerts) {
    json parsed = json::parse(detect::RenderAlertJson(a), nullptr, false);
    out.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace

std::string EvidenceDir(const std::string& data_dir) {
  return data_dir + "/evidence";
}

EvidenceCollector::EvidenceCollector(store::Store* store, keeper::Keeper* keeper,
                                     const Clock* clock, EvidenceCaptureOptions options)
    : store_(store), keeper_(keeper), clock_(clock), options_(std::move(options)) {}

Result<EvidenceBundleInfo> EvidenceCollector::Capture(const store::Scope& scope,
                                                      const std::string& incident_id,
                                                      const keeper::Caller& caller) {
  if (keeper_ == nullptr) return Status::Unavailable("the keeper is not available");
  std::lock_guard lock(capture_mu_);
  const int64_t now = clock_->NowSeconds();
  RAMPART_ASSIGN_OR_RETURN(IncidentAnalysis analysis,
                           AnalyzeIncident(*store_, *keeper_, scope, incident_id, caller, now));
  const std::string& institution = analysis.incident.institution_id;
  RAMPART_ASSIGN_OR_RETURN(std::vector<EvidenceBundleInfo> earlier, ListAll());
  for (const auto& b : earlier) {
    if (b.incident_id == incident_id && b.created_at > now - kMinCaptureSpacingSeconds) {
      return Status::ResourceExhausted("bundle " + b.bundle_id +
                                       " of this incident was captured less than a minute ago; "
                                       "download it, or capture again later");
    }
  }

  // The checkpoint first: every record the bundle carries is inside the tree it signs.
  RAMPART_ASSIGN_OR_RETURN(keeper::Checkpoint checkpoint, keeper_->MakeCheckpoint());

  std::vector<audit::Record> records;
  bool complete = true;
  keeper::AuditQuery query;
  query.caller = caller;
  query.since = analysis.window_start;
  query.limit = keeper::kMaxAuditQueryPage;
  bool done = false;
  while (!done) {
    RAMPART_ASSIGN_OR_RETURN(keeper::AuditPage page, keeper_->QueryAudit(query));
    for (auto& r : page.records) {
      if (r.index >= checkpoint.tree_size) {
        done = true;
        break;
      }
      // An institution's incident carries its own records and server-wide ones, never another
      // institution's (a superadmin's query sees them all).
      if (!institution.empty() && !r.institution_id.empty() && r.institution_id != institution) {
        continue;
      }
      if (static_cast<int64_t>(records.size()) >= kMaxEvidenceAuditRecords) {
        complete = false;
        done = true;
        break;
      }
      records.push_back(std::move(r));
    }
    if (page.next_cursor < 0 || page.next_cursor >= checkpoint.tree_size) done = true;
    query.cursor = page.next_cursor;
  }

  json proofs = json::array();
  for (size_t start = 0; start < records.size(); start += keeper::kMaxAuditProofsPerCall) {
    keeper::AuditProofRequest req;
    req.caller = caller;
    req.tree_size = checkpoint.tree_size;
    size_t end = std::min(records.size(), start + keeper::kMaxAuditProofsPerCall);
    for (size_t i = start; i < end; ++i) req.indexes.push_back(records[i].index);
    RAMPART_ASSIGN_OR_RETURN(std::vector<keeper::AuditProof> batch, keeper_->ProveAudit(req));
    if (batch.size() != req.indexes.size()) {
      return Status::Unavailable("the keeper answered a different number of proofs");
    }
    for (const auto& p : batch) {
      proofs.push_back({{"index", p.index}, {"leaf_hash", p.leaf_hash_hex}, {"path", p.path_hex}});
    }
  }

  std::string records_jsonl;
  for (const auto& r : records) {
    records_jsonl += audit::LeafBytes(r);
    records_jsonl += '\n';
  }
  RAMPART_ASSIGN_OR_RETURN(std::string public_key, keeper_->CheckpointPublicKey());
  json checkpoint_json = {
      {"tree_size", checkpoint.tree_size},
      {"root", checkpoint.root_hex},
      {"time", checkpoint.time},
      {"signature", crypto::HexEncode(checkpoint.signature)},
      {"message",
       audit::CheckpointMessage(checkpoint.tree_size, checkpoint.root_hex, checkpoint.time)},
      {"public_key", crypto::HexEncode(public_key)}};

  json incident_json = AnalysisToJson(analysis);
  json entries = json::array();
  for (const auto& e : analysis.entries) entries.push_back(IncidentEntryToJson(e));
  incident_json["entries"] = std::move(entries);

  EvidenceBundle bundle;
  bundle.bundle_id = core::NewId("evb");
  bundle.purpose = "incident " + incident_id;
  bundle.files.push_back({"incident.json", Dump(incident_json)});
  bundle.files.push_back({"alerts.json", Dump(AlertsJson(analysis.alerts))});
  bundle.files.push_back({"audit/records.jsonl", std::move(records_jsonl)});
  bundle.files.push_back({"audit/checkpoint.json", Dump(checkpoint_json)});
  bundle.files.push_back({"audit/proofs.json", Dump({{"tree_size", checkpoint.tree_size},
                                                     {"complete", complete},
                                                     {"window_start", analysis.window_start},
                                                     {"proofs", std::move(proofs)}})});
  // The server's own files (paths and hashes of the install, the configuration) are server-level
  // information: in the bundles of server-wide callers and playbooks only.
  if (scope.all) {
    bundle.files.push_back({"integrity.json", Dump(IntegrityJson(options_, now))});
    bundle.files.push_back({"system.json", Dump(SystemJson(options_, now))});
  }

  const std::string prefix = core::EvidenceSigningString("");
  keeper::SignEvidenceRequest sign;
  sign.caller = caller;
  sign.bundle_id = bundle.bundle_id;
  sign.institution_id = institution;
  auto signer = [&](std::string_view message) -> Result<std::string> {
    if (!message.starts_with(prefix)) return Status::Internal("unexpected evidence message");
    sign.manifest_sha256_hex = std::string(message.substr(prefix.size()));
    return keeper_->SignEvidence(sign);
  };
  RAMPART_ASSIGN_OR_RETURN(std::string archive, BuildEvidenceArchive(bundle, now, signer));

  EvidenceBundleInfo info;
  info.bundle_id = bundle.bundle_id;
  info.incident_id = incident_id;
  info.institution_id = institution;
  info.created_by = caller.principal;
  info.created_at = now;
  info.sha256_hex = crypto::Sha256Hex(archive);
  info.size = static_cast<int64_t>(archive.size());
  info.audit_records = static_cast<int64_t>(records.size());
  info.tree_size = checkpoint.tree_size;
  info.audit_complete = complete;

  const std::string dir = EvidenceDir(options_.data_dir);
  RAMPART_RETURN_IF_ERROR(files::EnsurePrivateDirectory(dir));
  RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(dir + "/" + info.bundle_id + ".tar.gz", archive));
  RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(dir + "/" + info.bundle_id + ".json",
                                                  InfoToJson(info).dump() + "\n"));

  std::string note = "Evidence bundle " + info.bundle_id + " captured (" +
                     std::to_string(info.audit_records) + " audit records, checkpoint of " +
                     std::to_string(info.tree_size) + " records, archive SHA-256 " +
                     info.sha256_hex + ")";
  if (!complete) note += "; the window held more audit records than one bundle carries";
  auto noted = store_->AddIncidentNote(scope, incident_id, caller.principal, note, now);
  if (!noted.ok()) {
    // The bundle stands (signed and stored); the timeline entry is what is missing.
    log::Warn("evidence.note_failed",
              {{"bundle_id", info.bundle_id}, {"error", noted.status().message()}});
  }
  log::Info("evidence.captured", {{"bundle_id", info.bundle_id},
                                  {"incident_id", incident_id},
                                  {"audit_records", info.audit_records}});
  return info;
}

Result<std::vector<EvidenceBundleInfo>> EvidenceCollector::ListAll() const {
  std::vector<EvidenceBundleInfo> out;
  const std::string dir = EvidenceDir(options_.data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".json") || !ValidBundleId(name.substr(0, name.size() - 5))) continue;
    RAMPART_ASSIGN_OR_RETURN(std::string text,
                             files::ReadWholeFile(entry.path().string(), kMaxInfoBytes));
    RAMPART_ASSIGN_OR_RETURN(EvidenceBundleInfo info, InfoFromJson(text));
    // The record must name the bundle its file is named for: paths are built from the id.
    if (info.bundle_id != name.substr(0, name.size() - 5)) {
      return Status::Internal("evidence record " + name + " names another bundle");
    }
    out.push_back(std::move(info));
  }
  if (ec) return Status::Internal("cannot list the evidence directory");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.bundle_id > b.bundle_id;
  });
  return out;
}

Result<std::vector<std::string>> EvidenceCollector::Prune(int64_t now, int64_t retention_days) {
  std::vector<std::string> deleted;
  if (retention_days <= 0) return deleted;
  // A deletion nobody can later see is not allowed: without the keeper's audit log, nothing
  // is deleted.
  if (keeper_ == nullptr) return Status::Unavailable("no keeper: evidence is not pruned");
  std::lock_guard lock(capture_mu_);  // never while a bundle of the same incident is written
  RAMPART_ASSIGN_OR_RETURN(auto all, ListAll());
  const int64_t cutoff = now - retention_days * 86400;
  std::map<std::string, bool> expired;  // incident → its bundles may go
  for (const auto& info : all) {
    auto [it, fresh] = expired.try_emplace(info.incident_id, false);
    if (!fresh) continue;
    auto incident = store_->GetIncident(store::Scope::All(), info.incident_id);
    if (incident.ok()) {
      it->second = incident->state == core::IncidentState::kClosed && incident->closed_at > 0 &&
                   incident->closed_at <= cutoff;
    } else if (incident.status().code() != Code::kNotFound) {
      return incident.status();
    }
    // An incident the store does not know (a database restored from a backup older than the
    // incident) keeps its bundles: they may be all that is left of it.
  }
  const std::string dir = EvidenceDir(options_.data_dir);
  for (const auto& info : all) {
    if (!expired[info.incident_id]) continue;
    // Deleting evidence is itself on the record, with the bundle's hash, before the files go.
    audit::Record r;
    r.actor = "system";
    r.action = "evidence.prune";
    r.target = info.bundle_id;
    r.outcome = "success";
    r.institution_id = info.institution_id;
    r.severity = "info";
    r.details_json = jsonutil::Dump(nlohmann::json{{"incident_id", info.incident_id},
                                                   {"created_at", info.created_at},
                                                   {"sha256", info.sha256_hex},
                                                   {"retention_days", retention_days}});
    if (auto appended = keeper_->AppendAudit(r); !appended.ok()) {
      log::Error("evidence.prune_failed",
                 {{"bundle_id", info.bundle_id}, {"error", appended.status().message()}});
      continue;
    }
    std::error_code archive_ec, info_ec;
    std::filesystem::remove(dir + "/" + info.bundle_id + ".tar.gz", archive_ec);
    // The record goes last: a bundle whose archive could not be removed is still listed.
    if (!archive_ec) std::filesystem::remove(dir + "/" + info.bundle_id + ".json", info_ec);
    if (archive_ec || info_ec) {
      log::Error("evidence.prune_failed", {{"bundle_id", info.bundle_id}});
      continue;
    }
    log::Info("evidence.pruned", {{"bundle_id", info.bundle_id},
                                  {"incident_id", info.incident_id},
                                  {"created_at", info.created_at}});
    deleted.push_back(info.bundle_id);
  }
  return deleted;
}

Result<std::vector<EvidenceBundleInfo>> EvidenceCollector::List(const store::Scope& scope,
                                                                const std::string& incident_id) {
  RAMPART_RETURN_IF_ERROR(store_->GetIncident(scope, incident_id).status());
  RAMPART_ASSIGN_OR_RETURN(auto all, ListAll());
  std::vector<EvidenceBundleInfo> out;
  for (auto& info : all) {
    if (info.incident_id == incident_id) out.push_back(std::move(info));
  }
  return out;
}

Result<EvidenceDownload> EvidenceCollector::Read(const store::Scope& scope,
                                                 const std::string& bundle_id) {
  if (!ValidBundleId(bundle_id)) return Status::NotFound("evidence bundle not found");
  const std::string base = EvidenceDir(options_.data_dir) + "/" + bundle_id;
  auto text = files::ReadWholeFile(base + ".json", kMaxInfoBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return Status::NotFound("evidence bundle not found");
    }
    return text.status();
  }
  EvidenceDownload out;
  RAMPART_ASSIGN_OR_RETURN(out.info, InfoFromJson(*text));
  // Another institution's bundle is as unknown as its incident.
  auto incident = store_->GetIncident(scope, out.info.incident_id);
  if (!incident.ok()) {
    if (incident.status().code() == Code::kNotFound) {
      return Status::NotFound("evidence bundle not found");
    }
    return incident.status();
  }
  RAMPART_ASSIGN_OR_RETURN(out.archive, files::ReadWholeFile(base + ".tar.gz", kMaxArchiveBytes));
  if (crypto::Sha256Hex(out.archive) != out.info.sha256_hex) {
    log::Error("evidence.archive_changed", {{"bundle_id", bundle_id}});
    return Status::Internal("the stored archive no longer matches the hash recorded at capture");
  }
  return out;
}

Result<core::Incident> EvidenceCollector::IncidentOfAlert(const core::Alert& alert) {
  auto incident = store_->AttachAlertToIncident(alert.id, options_.incident_window_seconds,
                                                clock_->NowSeconds());
  if (incident.ok()) LogIfOpened(*incident, alert);
  return incident;
}

}  // namespace rampart::respond
