// Evidence capture against the real keeper rules and the real Merkle log: the bundle verifies with
// the checkpoint public key, each audit record's inclusion proof verifies against the signed
// checkpoint in the bundle, a changed byte fails, bundles are stored 0600 and listed per incident;
// the capture_evidence and rotate_command_key actions are idempotent within their windows.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "../http/test_util.h"
#include "../support/captured_log.h"
#include "../support/log_records.h"
#include "audit/format.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "common/crypto.h"
#include "common/files.h"
#include "detect/file_integrity.h"
#include "keeper/log_trail.h"
#include "keeper/service.h"
#include "respond/actions.h"
#include "respond/evidence.h"
#include "respond/evidence_capture.h"
#include "respond/incident.h"
#include "store/store.h"

namespace rampart::respond {
namespace {

using nlohmann::json;

constexpr int64_t kCaptureT0 = 1'769'763'600;  // 2026-01-30T09:00:00Z

class EvidenceCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    clock_.SetMillis(kCaptureT0 * 1000);
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->CreateInstitution(core::Institution{"ins_a", "Agency A", 1}).ok());
    ASSERT_TRUE(store_->CreateInstitution(core::Institution{"ins_b", "Agency B", 1}).ok());

    audit::LogOptions log_options;
    log_options.clock = &clock_;
    auto log = audit::Log::Open(dir_.path() + "/keeper/audit", log_options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    trail_ = std::make_unique<keeper::LogTrail>(log_.get());
    keeper::KeeperOptions keeper_options;
    keeper_options.key_dir = dir_.path() + "/keeper";
    auto k = keeper::KeeperService::Open(keeper_options, trail_.get(), &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keeper_ = std::move(k).value();

    // A configuration file and a watched folder with a baseline, then a dropped webshell.
    config_file_ = dir_.path() + "/rampart.yaml";
    ASSERT_TRUE(files::WritePrivateFile(config_file_, "listen: 127.0.0.1:8443\n").ok());
    web_root_ = dir_.path() + "/www";
    ASSERT_TRUE(files::EnsurePrivateDirectory(web_root_).ok());
    ASSERT_TRUE(files::WritePrivateFile(web_root_ + "/index.html", "<html></html>").ok());
    baseline_ = dir_.path() + "/detect/integrity_baseline.json";
    ASSERT_TRUE(files::EnsurePrivateDirectory(dir_.path() + "/detect").ok());
    ASSERT_TRUE(detect::CreateBaseline({web_root_}, {}, baseline_, kCaptureT0).ok());
    ASSERT_TRUE(files::WritePrivateFile(web_root_ + "/403.jsp", "<% exec %>").ok());

    EvidenceCaptureOptions options;
    options.data_dir = dir_.path();
    options.config_files = {config_file_};
    options.integrity_baseline_file = baseline_;
    collector_ = std::make_unique<EvidenceCollector>(store_.get(), keeper_.get(), &clock_, options);
  }

  // A stored alert joined to its incident, as the tracker does.
  core::Incident RaiseIncident(const std::string& institution, const std::string& user) {
    alert_ = StoreAlert(institution, user);
    auto incident = store_->AttachAlertToIncident(alert_.id, 24 * 3600, clock_.NowSeconds());
    EXPECT_TRUE(incident.ok()) << incident.status().ToString();
    return *incident;
  }

  // A stored alert, in no incident yet.
  core::Alert StoreAlert(const std::string& institution, const std::string& user) {
    core::Alert a;
    a.institution_id = institution;
    a.rule_id = "rampart-canary-token";
    a.rule_title = "Canary staff record decrypted";
    a.entity = "user.name=" + user;
    a.severity = "critical";
    a.evidence.push_back(
        json{{"@timestamp", FormatRfc3339(kCaptureT0)}, {"user.name", user}}.dump());
    a.first_seen = a.last_seen = a.created_at = clock_.NowSeconds();
    a.count = 1;
    auto stored = store_->RecordAlert(a, 10);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? *stored : a;
  }

  void AppendRecord(const std::string& institution, const std::string& action,
                    const std::string& actor) {
    audit::Record r;
    r.actor = actor;
    r.action = action;
    r.target = "stf_1";
    r.outcome = "success";
    r.institution_id = institution;
    ASSERT_TRUE(keeper_->AppendAudit(r).ok());
  }

  static keeper::Caller AdminOf(const std::string& institution) {
    return keeper::Caller{"tok_admin_a", "admin",     institution,
                          "req_1",       "192.0.2.1", "evidence.capture"};
  }

  static std::string FileOf(const VerifiedEvidence& v, const std::string& name) {
    for (const auto& f : v.files) {
      if (f.name == name) return f.content;
    }
    ADD_FAILURE() << "no " << name << " in the bundle";
    return "";
  }

  http::testing::TempDir dir_;
  ManualClock clock_{0};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<audit::Log> log_;
  std::unique_ptr<keeper::LogTrail> trail_;
  std::unique_ptr<keeper::KeeperService> keeper_;
  std::unique_ptr<EvidenceCollector> collector_;
  std::string config_file_, web_root_, baseline_;
  core::Alert alert_;
};

TEST_F(EvidenceCaptureTest, BundleVerifiesAndEveryInclusionProofChecksOut) {
  core::Incident incident = RaiseIncident("ins_a", "tok_thief");
  AppendRecord("ins_a", "staff.decrypt", "tok_thief");
  AppendRecord("ins_a", "staff.canary_read", "tok_thief");
  AppendRecord("ins_b", "staff.decrypt", "tok_other");   // another institution's: left out
  AppendRecord("", "response.block_address", "system");  // server-wide: kept
  clock_.AdvanceSeconds(30);

  auto info =
      collector_->Capture(store::Scope::Institution("ins_a"), incident.id, AdminOf("ins_a"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->bundle_id.starts_with("evb_"));
  EXPECT_EQ(info->incident_id, incident.id);
  EXPECT_TRUE(info->audit_complete);

  const std::string path = EvidenceDir(dir_.path()) + "/" + info->bundle_id + ".tar.gz";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto archive = files::ReadWholeFile(path, size_t{1} << 30);
  ASSERT_TRUE(archive.ok());
  EXPECT_EQ(crypto::Sha256Hex(*archive), info->sha256_hex);

  auto public_key = keeper_->CheckpointPublicKey();
  ASSERT_TRUE(public_key.ok());
  auto verified = VerifyEvidenceArchive(*archive, *public_key);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->bundle_id, info->bundle_id);

  // The checkpoint in the bundle is signed by the same key.
  json checkpoint = json::parse(FileOf(*verified, "audit/checkpoint.json"));
  const int64_t tree_size = checkpoint.at("tree_size").get<int64_t>();
  const std::string root_hex = checkpoint.at("root").get<std::string>();
  auto checkpoint_sig = crypto::HexDecode(checkpoint.at("signature").get<std::string>());
  ASSERT_TRUE(checkpoint_sig.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(
      *public_key,
      audit::CheckpointMessage(tree_size, root_hex, checkpoint.at("time").get<int64_t>()),
      *checkpoint_sig));
  auto root = audit::HashFromHex(root_hex);
  ASSERT_TRUE(root.ok());

  // Each record line is the leaf the log hashed, and its proof leads to the signed root.
  json proofs = json::parse(FileOf(*verified, "audit/proofs.json")).at("proofs");
  std::string lines = FileOf(*verified, "audit/records.jsonl");
  std::vector<std::string> records;
  for (size_t start = 0; start < lines.size();) {
    size_t end = lines.find('\n', start);
    records.push_back(lines.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(records.size(), proofs.size());
  ASSERT_GE(records.size(), 3u);
  EXPECT_EQ(static_cast<int64_t>(records.size()), info->audit_records);
  bool saw_canary = false;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].find("ins_b"), std::string::npos) << "another institution's record";
    if (records[i].find("staff.canary_read") != std::string::npos) saw_canary = true;
    const audit::Hash leaf = audit::LeafHash(records[i]);
    EXPECT_EQ(audit::ToHex(leaf), proofs[i].at("leaf_hash").get<std::string>());
    std::vector<audit::Hash> path_hashes;
    for (const auto& h : proofs[i].at("path")) {
      path_hashes.push_back(*audit::HashFromHex(h.get<std::string>()));
    }
    const auto index = proofs[i].at("index").get<uint64_t>();
    EXPECT_TRUE(
        audit::VerifyInclusion(leaf, index, static_cast<uint64_t>(tree_size), path_hashes, *root))
        << "record " << index;
    // A record edited after the fact no longer proves.
    std::string edited = records[i];
    edited[edited.size() / 2] ^= 1;
    EXPECT_FALSE(audit::VerifyInclusion(audit::LeafHash(edited), index,
                                        static_cast<uint64_t>(tree_size), path_hashes, *root));
  }
  EXPECT_TRUE(saw_canary);

  // The rest of the bundle: alerts with their evidence. The server's own files (integrity,
  // binary, configuration) are not an institution's to see.
  json alerts = json::parse(FileOf(*verified, "alerts.json"));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].at("evidence").size(), 1u);
  for (const auto& f : verified->files) {
    EXPECT_NE(f.name, "integrity.json");
    EXPECT_NE(f.name, "system.json");
  }
  json incident_json = json::parse(FileOf(*verified, "incident.json"));
  EXPECT_FALSE(incident_json.dump().empty());

  // One changed byte anywhere in the archive and it no longer verifies.
  for (size_t at : {archive->size() / 3, archive->size() / 2, archive->size() - 5}) {
    std::string tampered = *archive;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x20);
    EXPECT_FALSE(VerifyEvidenceArchive(tampered, *public_key).ok()) << "byte " << at;
  }

  // The capture is on the incident's timeline, listed, and readable in scope only.
  auto entries = store_->ListIncidentEntries(store::Scope::All(), incident.id);
  ASSERT_TRUE(entries.ok());
  ASSERT_FALSE(entries->empty());
  EXPECT_NE(entries->back().text.find(info->bundle_id), std::string::npos);
  auto listed = collector_->List(store::Scope::Institution("ins_a"), incident.id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].bundle_id, info->bundle_id);
  auto read = collector_->Read(store::Scope::Institution("ins_a"), info->bundle_id);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->archive, *archive);
  EXPECT_EQ(collector_->Read(store::Scope::Institution("ins_b"), info->bundle_id).status().code(),
            Code::kNotFound);
  EXPECT_EQ(collector_->Read(store::Scope::All(), "evb_..%2f").status().code(), Code::kNotFound);

  // The keeper audited its signature with the bundle id and manifest hash.
  auto signs = rampart::testing::LogRecordsWithAction(*log_, "evidence.sign");
  ASSERT_EQ(signs.size(), 1u);
  EXPECT_EQ(signs[0].target, info->bundle_id);
  EXPECT_EQ(json::parse(signs[0].details_json).value("manifest_sha256", "").size(), 64u);
}

// One bundle of an incident a minute; a server-wide caller's bundle carries the server's own
// files: the file-integrity differences, the binary's and the configuration's hashes.
TEST_F(EvidenceCaptureTest, ServerFilesForServerWideCallersAndOneBundleAMinute) {
  core::Incident incident = RaiseIncident("ins_a", "tok_thief");
  AppendRecord("ins_a", "staff.decrypt", "tok_thief");
  ASSERT_TRUE(
      collector_->Capture(store::Scope::Institution("ins_a"), incident.id, AdminOf("ins_a")).ok());
  const keeper::Caller root{"tok_root", "superadmin", "", "req_2", "192.0.2.1", "evidence.capture"};
  EXPECT_EQ(collector_->Capture(store::Scope::All(), incident.id, root).status().code(),
            Code::kResourceExhausted);
  clock_.AdvanceSeconds(61);
  auto info = collector_->Capture(store::Scope::All(), incident.id, root);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto archive = files::ReadWholeFile(EvidenceDir(dir_.path()) + "/" + info->bundle_id + ".tar.gz",
                                      size_t{1} << 30);
  ASSERT_TRUE(archive.ok());
  auto public_key = keeper_->CheckpointPublicKey();
  ASSERT_TRUE(public_key.ok());
  auto verified = VerifyEvidenceArchive(*archive, *public_key);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  json integrity = json::parse(FileOf(*verified, "integrity.json"));
  ASSERT_EQ(integrity.at("changes").size(), 1u);
  EXPECT_NE(integrity["changes"][0].at("path").get<std::string>().find("403.jsp"),
            std::string::npos);
  EXPECT_EQ(integrity["changes"][0].at("change"), "added");
  json system = json::parse(FileOf(*verified, "system.json"));
  EXPECT_EQ(system.at("binary").at("sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(system.at("config_files")[0].at("sha256"),
            crypto::Sha256Hex("listen: 127.0.0.1:8443\n"));
  auto listed = collector_->List(store::Scope::All(), incident.id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

// Retention: bundles go only once their incident has been closed for the whole period, an
// open incident's never, and each deletion is on the audit record.
TEST_F(EvidenceCaptureTest, PruneDeletesOnlyBundlesOfLongClosedIncidents) {
  core::Incident closed = RaiseIncident("ins_a", "tok_a");
  core::Incident open = RaiseIncident("ins_b", "tok_b");
  ASSERT_NE(closed.id, open.id);
  auto a = collector_->Capture(store::Scope::All(), closed.id, AdminOf(""));
  auto b = collector_->Capture(store::Scope::All(), open.id, AdminOf(""));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
  const std::string dir = EvidenceDir(dir_.path());
  // A bundle of an incident the database does not know (restored from an older backup).
  auto record = files::ReadWholeFile(dir + "/" + a->bundle_id + ".json", 1 << 20);
  ASSERT_TRUE(record.ok());
  json orphan = json::parse(*record);
  orphan["bundle_id"] = "evb_0123456789abcdef";
  orphan["incident_id"] = "inc_restored_away";
  ASSERT_TRUE(files::WritePrivateFile(dir + "/evb_0123456789abcdef.json", orphan.dump()).ok());
  ASSERT_TRUE(files::WritePrivateFile(dir + "/evb_0123456789abcdef.tar.gz", "x").ok());
  ASSERT_TRUE(store_
                  ->TransitionIncident(store::Scope::All(), closed.id, core::IncidentState::kClosed,
                                       "usr_analyst", "done", clock_.NowSeconds())
                  .ok());
  const int64_t closed_at = clock_.NowSeconds();

  auto none = collector_->Prune(closed_at + 10 * 86400, 0);  // 0 keeps for ever
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto early = collector_->Prune(closed_at + 29 * 86400, 30);
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_TRUE(early->empty());
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + a->bundle_id + ".tar.gz"));

  const int64_t audit_before = log_->size();
  auto due = collector_->Prune(closed_at + 30 * 86400, 30);
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  ASSERT_EQ(*due, std::vector<std::string>{a->bundle_id});
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + a->bundle_id + ".tar.gz"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + a->bundle_id + ".json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + b->bundle_id + ".tar.gz"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/evb_0123456789abcdef.tar.gz"));
  auto listed = collector_->List(store::Scope::All(), closed.id);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(collector_->Read(store::Scope::All(), a->bundle_id).status().code(), Code::kNotFound);
  ASSERT_EQ(log_->size(), audit_before + 1);
  auto records = log_->ReadRecords(audit_before, 1);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].action, "evidence.prune");
  EXPECT_EQ((*records)[0].target, a->bundle_id);
  EXPECT_NE((*records)[0].details_json.find(a->sha256_hex), std::string::npos);

  auto again = collector_->Prune(closed_at + 31 * 86400, 30);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  // A record whose id is not its file's name is refused, never used to build a path.
  orphan["bundle_id"] = "../../escape";
  ASSERT_TRUE(files::WritePrivateFile(dir + "/evb_0123456789abcdef.json", orphan.dump()).ok());
  EXPECT_EQ(collector_->Prune(closed_at + 31 * 86400, 30).status().code(), Code::kInternal);
}

TEST_F(EvidenceCaptureTest, OtherInstitutionsIncidentIsNotFoundAndKeeperRefusalIsFinal) {
  core::Incident incident = RaiseIncident("ins_b", "tok_x");
  EXPECT_EQ(collector_->Capture(store::Scope::Institution("ins_a"), incident.id, AdminOf("ins_a"))
                .status()
                .code(),
            Code::kNotFound);
  keeper::Caller helpdesk{"tok_help", "helpdesk", "ins_b", "", "", "evidence.capture"};
  EXPECT_EQ(collector_->Capture(store::Scope::Institution("ins_b"), incident.id, helpdesk)
                .status()
                .code(),
            Code::kPermissionDenied);
  auto listed = collector_->List(store::Scope::All(), incident.id);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "no bundle without the keeper's signature";
}

class EvidenceActionTest : public EvidenceCaptureTest {
 protected:
  void SetUp() override {
    EvidenceCaptureTest::SetUp();
    ActionEngineOptions options;
    options.sleep = [](int64_t) {};
    engine_ = std::make_unique<ActionEngine>(store_.get(), keeper_.get(), &clock_, &denylist_,
                                             &lockdowns_, options);
    engine_->SetEvidenceCollector(collector_.get());
  }

  // The context of a playbook step acting on `alert`.
  static ActionContext StepFor(const core::Alert& alert) {
    ActionContext ctx;
    ctx.playbook = "staff-harvest-contain";
    ctx.step = 3;
    ctx.alert_id = alert.id;
    ctx.entity = alert.entity;
    return ctx;
  }

  std::vector<audit::Record> Actions(const std::string& action) {
    return rampart::testing::LogRecordsWithAction(*log_, action);
  }

  Denylist denylist_{&clock_};
  LockdownState lockdowns_;
  std::unique_ptr<ActionEngine> engine_;
};

TEST_F(EvidenceActionTest, CaptureEvidenceIsIdempotentPerIncidentWithinItsWindow) {
  core::Incident incident = RaiseIncident("ins_a", "tok_thief");
  ActionContext ctx = StepFor(alert_);
  auto first = engine_->CaptureEvidence(ctx, alert_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->reused);
  clock_.AdvanceSeconds(60);
  auto second = engine_->CaptureEvidence(ctx, alert_);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(second->bundle.bundle_id, first->bundle.bundle_id);
  auto listed = collector_->List(store::Scope::All(), incident.id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);

  auto records = Actions("response.capture_evidence");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].outcome, "success");
  EXPECT_EQ(records[0].target, incident.id);
  json details = json::parse(records[0].details_json);
  EXPECT_EQ(details.value("bundle_id", ""), first->bundle.bundle_id);
  EXPECT_EQ(details.value("playbook", ""), "staff-harvest-contain");
  EXPECT_TRUE(json::parse(records[1].details_json).value("reused", false));

  // Past the window a new bundle is captured.
  clock_.AdvanceSeconds(3600);
  auto third = engine_->CaptureEvidence(ctx, alert_);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->reused);
  EXPECT_NE(third->bundle.bundle_id, first->bundle.bundle_id);
}

// A playbook's capture_evidence may be the first to join an alert to an incident: it logs
// incident.opened then, once; a second capture, and the tracker seeing the alert after them,
// join the incident that is open and log nothing.
TEST_F(EvidenceActionTest, CaptureThatOpensTheIncidentLogsItOnce) {
  rampart::testing::CapturedLog captured;
  ASSERT_TRUE(captured.ok());
  core::Alert alert = StoreAlert("ins_a", "tok_thief");
  ActionContext ctx = StepFor(alert);
  auto first = engine_->CaptureEvidence(ctx, alert);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  clock_.AdvanceSeconds(60);
  auto second = engine_->CaptureEvidence(ctx, alert);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->reused);
  IncidentTracker tracker(store_.get(), &clock_, 24 * 3600);
  tracker.OnStoredAlert(alert);
  EXPECT_EQ(tracker.failures(), 0u);
  EXPECT_EQ(captured.Count("incident.opened"), 1);
  auto incidents = store_->ListIncidents(store::Scope::All(), {}, {});
  ASSERT_TRUE(incidents.ok()) << incidents.status().ToString();
  EXPECT_EQ(incidents->items.size(), 1u);
}

TEST_F(EvidenceActionTest, RotateCommandKeyRotatesOncePerWindowAndIsAudited) {
  auto before = keeper_->GetCommandKey("ins_a");
  ASSERT_TRUE(before.ok());
  ActionContext ctx;
  ctx.playbook = "pb";
  auto first = engine_->RotateCommandKey(ctx, "ins_a");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->rotated);
  EXPECT_EQ(first->old_key_id, before->key_id);
  auto after = keeper_->GetCommandKey("ins_a");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->key_id, first->new_key_id);

  clock_.AdvanceSeconds(120);
  auto second = engine_->RotateCommandKey(ctx, "ins_a");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->rotated);
  EXPECT_EQ(keeper_->GetCommandKey("ins_a")->key_id, after->key_id);
  EXPECT_EQ(keeper_->KeyRotations("ins_a")->size(), 1u);

  auto records = Actions("response.rotate_command_key");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].outcome, "success");
  EXPECT_EQ(records[0].target, "ins_a");
  EXPECT_TRUE(json::parse(records[0].details_json).value("rotated", false));
  EXPECT_FALSE(json::parse(records[1].details_json).value("rotated", true));

  clock_.AdvanceSeconds(7200);
  auto third = engine_->RotateCommandKey(ctx, "ins_a");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->rotated);
  EXPECT_EQ(keeper_->KeyRotations("ins_a")->size(), 2u);

  EXPECT_EQ(engine_->RotateCommandKey(ctx, "").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace rampart::respond
