// Devices obey only signed commands, end to end: the real `rampart-agent` binary against the
// real App and HTTPS server over a SQLite file, with an attacker who can write that file (what
// code execution in the web tier yields). Rows the attacker inserts or resets are refused by
// the agent, never executed, and marked rejected by the server as a critical security event.
//
// The keeper is testing::FakeKeeper in this process until `rampart serve` is wired to the real
// keeper process; then this test should start `rampart keeper` + `rampart serve` through
// harness.h instead of the in-process server below (the assertions stay the same).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "api/app.h"
#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "harness.h"
#include "http/server.h"
#include "http/tls_files.h"
#include "store/store.h"
#include "tests/support/fake_keeper.h"

namespace rampart::e2e {
namespace {

class SignedCommandsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = fs::temp_directory_path() / ("rampart-signed-e2e-" + crypto::RandomHex(6));
    fs::create_directories(dir_ / "apps");
    auto tls = http::EnsureServerCertificate((dir_ / "tls").string());
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    ca_ = tls->ca_cert;
    db_path_ = (dir_ / "rampart.db").string();
    auto store = store::OpenStore("sqlite:" + db_path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();

    api::AppOptions options;
    options.apps_dir = (dir_ / "apps").string();
    options.server_identity_key = crypto::GenerateEd25519().public_key;
    options.tls_ca_fingerprint = *http::CertificateFingerprint(ca_);
    options.keeper = &keeper_;
    app_ = std::make_unique<api::App>(options, store_.get(), &SystemClock::Instance());

    http::ServerOptions so;
    so.port = 0;
    so.threads = 2;
    so.cert_file = tls->server_cert;
    so.key_file = tls->server_key;
    server_ = std::make_unique<http::HttpServer>(
        so, [this](http::Request& r) { return app_->Handle(r); });
    ASSERT_TRUE(server_->Start().ok());
    url_ = "https://127.0.0.1:" + std::to_string(server_->port());

    auto super =
        api::IssueApiToken(*store_, SystemClock::Instance(), core::Role::kSuperAdmin, "", "e2e", 0);
    ASSERT_TRUE(super.ok());
    ApiReply inst = CallApi(url_, ca_, super->secret, "POST", "/api/v1/institutions",
                            json{{"name", "E2E"}}.dump());
    ASSERT_EQ(inst.status, 201) << inst.raw;
    inst_ = inst.body["id"];
    admin_ = api::IssueApiToken(*store_, SystemClock::Instance(), core::Role::kAdmin, inst_, "a", 0)
                 ->secret;
    second_admin_ =
        api::IssueApiToken(*store_, SystemClock::Instance(), core::Role::kAdmin, inst_, "b", 0)
            ->secret;
    enroll_ =
        api::IssueEnrollmentToken(*store_, SystemClock::Instance(), inst_, "", 50, 3600)->secret;
  }

  void TearDown() override {
    if (server_) server_->Stop(1000);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ApiReply Api(const std::string& method, const std::string& target, const json& body = nullptr,
               const std::string& token = "") {
    return CallApi(url_, ca_, token.empty() ? admin_ : token, method, target,
                   body.is_null() ? "" : body.dump());
  }

  std::string EnrollAgent(const std::string& state) {
    ProcResult r = e2e::Run({kAgent, "enroll", "--server", url_, "--ca", ca_, "--token", enroll_,
                             "--state", state, "--platform", "android", "--os-version", "14"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(ReadFile(state), nullptr, false).value("device_id", "");
  }

  json Command(const std::string& device_id, const std::string& id) {
    ApiReply r = Api("GET", "/api/v1/devices/" + device_id + "/commands/" + id);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

  // The attacker's write: straight into the database file, beside the running server.
  void Sql(const std::string& sql, const std::vector<std::string>& text_args,
           const std::string* blob = nullptr) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    int i = 1;
    for (const auto& a : text_args) {
      sqlite3_bind_text(st, i++, a.c_str(), static_cast<int>(a.size()), SQLITE_TRANSIENT);
    }
    if (blob) {
      sqlite3_bind_blob(st, i++, blob->data(), static_cast<int>(blob->size()), SQLITE_TRANSIENT);
    }
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }

  // Inserts a queued command row as an attacker would: next seq, a plausible key id, and a
  // signature of the attacker's making (or none).
  std::string InsertForged(const std::string& device_id, const std::string& type,
                           const std::string& payload, const std::string& key_id,
                           const std::string& signature) {
    std::string id = "cmd_" + crypto::RandomHex(12);
    Sql("INSERT INTO commands (id, institution_id, device_id, seq, type, payload_json, state, "
        "created_by, created_at, updated_at, expires_at, sent_at, not_before, not_now_count, "
        "result_json, error, signature_key_id, signature) "
        "SELECT ?1, ?2, ?3, ifnull(max(seq), 0) + 1, ?4, ?5, 'queued', 'tok_attacker', "
        "strftime('%s','now'), strftime('%s','now'), strftime('%s','now') + 3600, 0, 0, 0, '', "
        "'', ?6, ?7 FROM commands WHERE device_id = ?3",
        {id, inst_, device_id, type, payload, key_id}, &signature);
    return id;
  }

  fs::path dir_;
  std::string ca_, db_path_, url_, inst_, admin_, second_admin_, enroll_;
  testing::FakeKeeper keeper_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<api::App> app_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(SignedCommandsE2eTest, AgentRefusesRowsTheKeeperNeverSignedAndServerMarksThemRejected) {
  std::string state = (dir_ / "phone.json").string();
  std::string device = EnrollAgent(state);
  ASSERT_FALSE(device.empty());
  json pinned = json::parse(ReadFile(state))["command_key"];
  ASSERT_TRUE(pinned.is_object()) << "the agent pinned the command key at enrollment";
  std::string key_id = pinned["key_id"];

  // A legitimate command is signed, delivered, verified and executed.
  ApiReply lock = Api("POST", "/api/v1/devices/" + device + "/commands", json{{"type", "lock"}});
  ASSERT_EQ(lock.status, 201) << lock.raw;
  std::string lock_id = lock.body["id"];
  ProcResult run = e2e::Run({kAgent, "run", "--state", state, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Command(device, lock_id)["state"], "acknowledged");

  // The attacker inserts a wipe with a forged signature under the real key id, and one with
  // no signature at all.
  std::string forged =
      InsertForged(device, "wipe", R"({"mode":"full"})", key_id, crypto::RandomBytes(64));
  std::string unsigned_row = InsertForged(device, "wipe", R"({"mode":"full"})", "", "");
  run = e2e::Run({kAgent, "run", "--state", state, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("1 refused"), std::string::npos) << run.err;
  json f = Command(device, forged);
  EXPECT_EQ(f["state"], "rejected");
  EXPECT_EQ(f["error"], "bad_signature");
  EXPECT_EQ(Command(device, unsigned_row)["state"], "queued") << "never delivered";
  EXPECT_TRUE(fs::exists(state)) << "the device was not wiped";

  // The attacker replays the executed lock by resetting its row.
  Sql("UPDATE commands SET state = 'queued', sent_at = 0 WHERE id = ?1", {lock_id});
  run = e2e::Run({kAgent, "run", "--state", state, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json replay = Command(device, lock_id);
  EXPECT_EQ(replay["state"], "rejected");
  EXPECT_EQ(replay["error"], "replayed");

  int critical = 0;
  for (const auto& r : keeper_.audit_records()) {
    if (r.action == "command.rejected_by_device" && r.severity == "critical") ++critical;
  }
  EXPECT_EQ(critical, 2);
}

TEST_F(SignedCommandsE2eTest, ApprovedWipeReachesTheRealAgent) {
  std::string state = (dir_ / "wiped.json").string();
  std::string device = EnrollAgent(state);
  ApiReply wipe = Api("POST", "/api/v1/devices/" + device + "/commands",
                      json{{"type", "wipe"}, {"mode", "full"}});
  ASSERT_EQ(wipe.status, 201) << wipe.raw;
  EXPECT_EQ(wipe.body["state"], "awaiting_approval");
  ASSERT_EQ(e2e::Run({kAgent, "run", "--state", state, "--once"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(state)) << "not delivered before approval";
  ApiReply ok = Api("POST", "/api/v1/commands/" + wipe.body["id"].get<std::string>() + "/approve",
                    nullptr, second_admin_);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  ProcResult run = e2e::Run({kAgent, "run", "--state", state, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(fs::exists(state)) << "the wiped device forgot its enrollment";
  EXPECT_EQ(Command(device, wipe.body["id"])["state"], "acknowledged");
}

TEST_F(SignedCommandsE2eTest, SimulatedFleetVerifiesEveryCommand) {
  // An institution-wide policy reaches each simulated device at enrollment as a signed
  // apply_policy; every device verifies it (one Ed25519 verification) and none is refused.
  ApiReply pol = Api("POST", "/api/v1/policies",
                     json{{"name", "Base"}, {"rules", {{"passcode_min_length", 4}}}});
  ASSERT_EQ(pol.status, 201) << pol.raw;
  ASSERT_EQ(Api("POST", "/api/v1/policies/" + pol.body["id"].get<std::string>() + "/assignments",
                json{{"target", "institution"}})
                .status,
            201);
  ProcResult r = e2e::Run({kAgent, "simulate", "--server", url_, "--ca", ca_, "--token", enroll_,
                           "--devices", "10", "--interval", "0.25", "--duration", "5",
                           "--connections", "4", "--seed", "7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << r.out;
  EXPECT_EQ(summary["devices_enrolled"], 10) << r.out;
  EXPECT_TRUE(summary["errors"].empty()) << r.out;
  EXPECT_TRUE(summary["commands_rejected"].empty()) << r.out;
  EXPECT_EQ(summary["commands_executed"]["apply_policy"], 10) << r.out;
}

}  // namespace
}  // namespace rampart::e2e
