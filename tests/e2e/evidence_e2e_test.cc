// Evidence capture end to end: the real `rampart serve` (with its keeper child) opens an incident
// for an exploit request; an demo.admin captures its evidence bundle over HTTPS, lists and
// downloads it, and `rampart evidence verify` accepts the download with the keeper's checkpoint
// public key and refuses a copy with one byte changed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

TEST(EvidenceE2e, CapturedBundleDownloadsAndVerifiesOffline) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  const fs::path dir = FreshTestDir("rampart_evidence_e2e");
  const std::string data = (dir / "data").string();
  const std::string config = (dir / "rampart.yml").string();
  // The probe comes from the test's own 127.0.0.1: a playbook block would lock it out.
  WriteFile(config, "response:\n  playbooks: false\n");
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  const std::string url = demo.process.url();

  EXPECT_EQ(CallApi(url, demo.ca, "", "GET", kFobInjectionProbe).status, 404);
  json incident_summary = WaitForIncident(url, demo.ca, demo.superadmin, "source.ip=127.0.0.1");
  ASSERT_FALSE(incident_summary.is_null()) << "no incident for the probe; server log:\n"
                                           << demo.process.log();
  const std::string id = incident_summary["id"];
  const std::string base = "/api/v1/incidents/" + id + "/evidence";

  // A server-wide incident is not the institution admin's: not found, nothing captured.
  EXPECT_EQ(CallApi(url, demo.ca, demo.admin, "POST", base, "{}").status, 404);

  ApiReply captured = CallApi(url, demo.ca, demo.superadmin, "POST", base, "{}");
  ASSERT_EQ(captured.status, 201) << captured.raw << "\n" << demo.process.log();
  const std::string bundle_id = captured.body["bundle_id"];
  EXPECT_EQ(bundle_id.rfind("evb_", 0), 0u);
  EXPECT_GE(captured.body["audit_records"].get<int64_t>(), 1);

  const std::string stored = data + "/evidence/" + bundle_id + ".tar.gz";
  struct stat st {};
  ASSERT_EQ(::stat(stored.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ApiReply listed = CallApi(url, demo.ca, demo.superadmin, "GET", base);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  ASSERT_EQ(listed.body["items"].size(), 1u);
  EXPECT_EQ(listed.body["items"][0]["bundle_id"], bundle_id);

  ApiReply download =
      CallApi(url, demo.ca, demo.superadmin, "GET", "/api/v1/evidence/" + bundle_id);
  ASSERT_EQ(download.status, 200);
  EXPECT_EQ(crypto::Sha256Hex(download.raw), captured.body["sha256"]);
  EXPECT_EQ(CallApi(url, demo.ca, demo.admin, "GET", "/api/v1/evidence/" + bundle_id).status, 404);
  EXPECT_EQ(CallApi(url, demo.ca, demo.superadmin, "GET", "/api/v1/evidence/evb_0").status, 404);

  // The capture is on the incident's timeline.
  ApiReply incident = CallApi(url, demo.ca, demo.superadmin, "GET", "/api/v1/incidents/" + id);
  ASSERT_EQ(incident.status, 200);
  EXPECT_NE(incident.body["entries"].dump().find(bundle_id), std::string::npos);

  const std::string bundle = (dir / "bundle.tar.gz").string();
  WriteFile(bundle, download.raw);
  const std::string public_key = data + "/keeper/audit/checkpoint.pub";
  ProcResult ok = e2e::Run({kRampart, "evidence", "verify", bundle, "--public-key", public_key});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  std::string tampered_bytes = download.raw;
  tampered_bytes[tampered_bytes.size() / 2] ^= 0x01;
  const std::string tampered = (dir / "tampered.tar.gz").string();
  WriteFile(tampered, tampered_bytes);
  ProcResult bad = e2e::Run({kRampart, "evidence", "verify", tampered, "--public-key", public_key});
  EXPECT_NE(bad.exit_code, 0) << bad.out;

  EXPECT_EQ(demo.process.Stop(), 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
