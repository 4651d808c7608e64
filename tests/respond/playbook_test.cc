#include "respond/playbook.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"

namespace rampart::respond {
namespace {

constexpr const char* kGood = R"(id: block-it
title: Block it
trigger:
  rule_ids: ["3b672e5c-*", "epmm-*"]
  min_severity: high
  entity_type: source.ip
steps:
  - action: block_address
    duration: 2h
  - action: lockdown
    scope: server
    requires_approval: true
)";

core::Alert MakeAlert(std::string rule, std::string severity, std::string entity) {
  core::Alert a;
  a.id = "alr_1";
  a.rule_id = std::move(rule);
  a.severity = std::move(severity);
  a.entity = std::move(entity);
  return a;
}

TEST(PlaybookParse, ReadsTriggerAndSteps) {
  auto pb = ParsePlaybook(kGood, "good.yml");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ(pb->id, "block-it");
  ASSERT_EQ(pb->steps.size(), 2u);
  EXPECT_EQ(pb->steps[0].action, ActionKind::kBlockAddress);
  EXPECT_EQ(pb->steps[0].duration_seconds, 7200);
  EXPECT_EQ(pb->steps[0].line, 8);
  EXPECT_EQ(pb->steps[1].action, ActionKind::kLockdown);
  EXPECT_TRUE(pb->steps[1].server_wide);
  EXPECT_TRUE(pb->steps[1].requires_approval);
}

TEST(PlaybookParse, BlockWithoutDurationLastsADay) {
  auto pb = ParsePlaybook("id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: block_address\n",
                          "a.yml");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ(pb->steps[0].duration_seconds, kDefaultBlockSeconds);
}

struct BadCase {
  const char* text;
  const char* want;  // the message must start with this "file:line:" and contain `detail`
  const char* detail;
};

TEST(PlaybookParse, RefusesBadPlaybooksNamingFileAndLine) {
  const BadCase cases[] = {
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: [unclosed\n", "bad.yml:5:", "flow"},
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: launch_missiles\n",
       "bad.yml:4:", "unknown action 'launch_missiles'"},
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: block_address\n    duration: "
       "forever\n",
       "bad.yml:5:", "bad duration"},
      {"id: a\ntrigger:\n  rule_ids: [x]\n  min_severity: apocalyptic\nsteps:\n  - action: "
       "lockdown\n",
       "bad.yml:4:", "min_severity"},
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: lockdown\n    colour: red\n",
       "bad.yml:5:", "unknown step field 'colour'"},
      {"id: a\nsteps:\n  - action: lockdown\n", "bad.yml:1:", "needs a trigger"},
      {"id: A B\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: lockdown\n", "bad.yml:1:", "id"},
      {"id: a\ntrigger: {entity_type: source.ip}\nsteps:\n  - action: lockdown\n",
       "bad.yml:2:", "rule_ids or tags"},
      {"- just\n- a list\n", "bad.yml:1:", "mapping"},
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: lockdown\n    duration: 1h\n",
       "bad.yml:4:", "only block_address"},
      {"id: a\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: \"lockdown\n",
       "bad.yml:4:", "the quote opened at column 13 is never closed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto pb = ParsePlaybook(c.text, "bad.yml");
    ASSERT_FALSE(pb.ok());
    EXPECT_EQ(pb.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(pb.status().message().rfind(c.want, 0), 0u) << pb.status().message();
    EXPECT_NE(pb.status().message().find(c.detail), std::string::npos) << pb.status().message();
  }
}

TEST(PlaybookLoad, BrokenFilesAreReportedAndTheOthersStillLoad) {
  auto dir = std::filesystem::temp_directory_path() / ("rampart-pb-" + crypto::RandomHex(6));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  };
  write("a_good.yml", kGood);
  write("b_unknown_action.yml",
        "id: b\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: pause_universe\n");
  write("c_malformed.yaml", "id: c\ntrigger: {rule_ids: [x\n");
  write("d_duplicate.yml", kGood);
  write("e_ignored.txt", "not a playbook");
  PlaybookLoad load = LoadPlaybookDir(dir.string());
  ASSERT_EQ(load.playbooks.size(), 1u);
  EXPECT_EQ(load.playbooks[0].id, "block-it");
  ASSERT_EQ(load.errors.size(), 3u);
  EXPECT_NE(load.errors[0].find("b_unknown_action.yml:4:"), std::string::npos) << load.errors[0];
  EXPECT_NE(load.errors[1].find("c_malformed.yaml:"), std::string::npos) << load.errors[1];
  EXPECT_NE(load.errors[2].find("already used"), std::string::npos) << load.errors[2];
  std::filesystem::remove_all(dir);
}

TEST(PlaybookLoad, MissingDirectoryIsAnError) {
  PlaybookLoad load = LoadPlaybookDir("/nonexistent/rampart/playbooks");
  EXPECT_TRUE(load.playbooks.empty());
  EXPECT_EQ(load.errors.size(), 1u);
}

TEST(PlaybookLoad, BundledPlaybooksAllLoad) {
  PlaybookLoad load = LoadPlaybookDir(std::string(RAMPART_SOURCE_DIR) + "/rules/playbooks");
  for (const auto& e : load.errors) ADD_FAILURE() << e;
  EXPECT_GE(load.playbooks.size(), 3u);
}

TEST(PlaybookParse, ReadsTheMasterKeyRewrapActionWithoutOptions) {
  auto pb = ParsePlaybook(
      "id: mk\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: rewrap_master_key\n"
      "    requires_approval: true\n",
      "mk.yml");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  ASSERT_EQ(pb->steps.size(), 1u);
  EXPECT_EQ(pb->steps[0].action, ActionKind::kRewrapMasterKey);
  EXPECT_TRUE(pb->steps[0].requires_approval);
  EXPECT_EQ(ToString(ActionKind::kRewrapMasterKey), "rewrap_master_key");
  EXPECT_FALSE(ParsePlaybook("id: mk\ntrigger: {rule_ids: [x]}\nsteps:\n"
                             "  - action: rewrap_master_key\n    duration: 1h\n",
                             "mk.yml")
                   .ok());
  EXPECT_FALSE(ParsePlaybook("id: mk\ntrigger: {rule_ids: [x]}\nsteps:\n"
                             "  - action: rewrap_master_key\n    scope: server\n",
                             "mk.yml")
                   .ok());
}

TEST(PlaybookParse, ReadsEvidenceAndKeyRotationActions) {
  auto pb = ParsePlaybook(
      "id: ev\ntrigger: {rule_ids: [x]}\nsteps:\n  - action: rotate_command_key\n"
      "  - action: capture_evidence\n",
      "ev.yml");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  ASSERT_EQ(pb->steps.size(), 2u);
  EXPECT_EQ(pb->steps[0].action, ActionKind::kRotateCommandKey);
  EXPECT_EQ(pb->steps[1].action, ActionKind::kCaptureEvidence);
  EXPECT_EQ(ToString(ActionKind::kCaptureEvidence), "capture_evidence");
  // Options of other actions are refused on them.
  EXPECT_FALSE(ParsePlaybook("id: ev\ntrigger: {rule_ids: [x]}\nsteps:\n"
                             "  - action: capture_evidence\n    duration: 1h\n",
                             "ev.yml")
                   .ok());
}

TEST(PlaybookLoad, StaffHarvestPlaybookEndsWithEvidenceCapture) {
  PlaybookLoad load = LoadPlaybookDir(std::string(RAMPART_SOURCE_DIR) + "/rules/playbooks");
  const Playbook* harvest = nullptr;
  for (const auto& pb : load.playbooks) {
    if (pb.id == "staff-harvest-contain") harvest = &pb;
  }
  ASSERT_NE(harvest, nullptr);
  ASSERT_FALSE(harvest->steps.empty());
  EXPECT_EQ(harvest->steps.back().action, ActionKind::kCaptureEvidence);
}

TEST(PlaybookTrigger, MatchesRuleSeverityAndEntity) {
  auto pb = ParsePlaybook(kGood, "good.yml");
  ASSERT_TRUE(pb.ok());
  const auto& t = pb->trigger;
  EXPECT_TRUE(TriggerMatches(t, MakeAlert("3b672e5c-3104", "critical", "source.ip=192.0.2.1")));
  EXPECT_TRUE(TriggerMatches(t, MakeAlert("epmm-x", "high", "source.ip=192.0.2.1")));
  EXPECT_FALSE(TriggerMatches(t, MakeAlert("3b672e5c-3104", "medium", "source.ip=192.0.2.1")));
  EXPECT_FALSE(TriggerMatches(t, MakeAlert("3b672e5c-3104", "high", "user.name=tok_1")));
  EXPECT_FALSE(TriggerMatches(t, MakeAlert("other", "critical", "source.ip=192.0.2.1")));
}

TEST(PlaybookTrigger, TagsMatchAttackIds) {
  PlaybookTrigger t;
  t.tags = {"attack.t1190"};
  core::Alert a = MakeAlert("r", "high", "source.ip=192.0.2.1");
  EXPECT_FALSE(TriggerMatches(t, a));
  a.attack = {"T1190"};
  EXPECT_TRUE(TriggerMatches(t, a));
}

TEST(PlaybookGlob, Wildcards) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("a*c", "abbbc"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_FALSE(GlobMatch("abc", "abcd"));
  EXPECT_TRUE(GlobMatch("*-*-*", "x-y-z"));
}

TEST(PlaybookDuration, Units) {
  EXPECT_EQ(*ParseDuration("90"), 90);
  EXPECT_EQ(*ParseDuration("90s"), 90);
  EXPECT_EQ(*ParseDuration("30m"), 1800);
  EXPECT_EQ(*ParseDuration("24h"), 86400);
  EXPECT_EQ(*ParseDuration("7d"), 7 * 86400);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("0h").ok());
  EXPECT_FALSE(ParseDuration("-5m").ok());
  EXPECT_FALSE(ParseDuration("h").ok());
  EXPECT_FALSE(ParseDuration("99999999999999d").ok());
}

}  // namespace
}  // namespace rampart::respond
