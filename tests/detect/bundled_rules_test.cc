// Runs every bundled rule against its own log lines (rules/sigma/tests/<rule>.lines).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;
const fs::path kRulesDir = fs::path(RAMPART_SOURCE_DIR) / "rules" / "sigma";

struct Case {
  bool positive;
  std::string line;
  int line_no;
};

std::vector<Case> ReadCases(const fs::path& path) {
  std::vector<Case> cases;
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > 2 && (line[0] == '+' || line[0] == '-') && line[1] == ' ') {
      cases.push_back({line[0] == '+', line.substr(2), n});
    } else {
      ADD_FAILURE() << path << ":" << n << ": line must start with '+ ' or '- '";
    }
  }
  return cases;
}

class BundledRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RuleSetBuilder b;
    ASSERT_TRUE(b.AddDirectory(kRulesDir.string()).ok());
    auto r = b.Build();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    rules_ = std::move(r).value();
    for (const auto& s : rules_->skipped()) ADD_FAILURE() << s.file << ": " << s.reason;
    matcher_ = std::make_unique<RuleMatcher>(*rules_);
  }

  std::set<std::string> Fired(const std::string& line) {
    Event ev;
    EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    std::vector<uint32_t> hits;
    matcher_->Match(ev, &hits);
    std::set<std::string> files;
    for (uint32_t h : hits) files.insert(fs::path(rules_->rule(h).file).stem().string());
    return files;
  }

  std::unique_ptr<RuleSet> rules_;
  std::unique_ptr<RuleMatcher> matcher_;
};

TEST_F(BundledRulesTest, EveryRuleHasAttackTagsAndPassesItsLines) {
  ASSERT_GE(rules_->size(), 6u);
  for (size_t i = 0; i < rules_->size(); ++i) {
    const RuleInfo& rule = rules_->rule(i);
    std::string stem = fs::path(rule.file).stem().string();
    SCOPED_TRACE(stem);
    EXPECT_FALSE(rule.attack.empty()) << "no ATT&CK technique tag";
    EXPECT_FALSE(rule.id.empty());
    fs::path cases_file = kRulesDir / "tests" / (stem + ".lines");
    ASSERT_TRUE(fs::exists(cases_file)) << cases_file;
    auto cases = ReadCases(cases_file);
    int pos = 0, neg = 0;
    for (const Case& c : cases) {
      bool fired = Fired(c.line).count(stem) > 0;
      if (c.positive) {
        ++pos;
        EXPECT_TRUE(fired) << cases_file.filename() << ":" << c.line_no << " should fire";
      } else {
        ++neg;
        EXPECT_FALSE(fired) << cases_file.filename() << ":" << c.line_no << " should not fire";
      }
    }
    EXPECT_GE(pos, 1);
    EXPECT_GE(neg, 1);
  }
}

TEST_F(BundledRulesTest, NegativeLinesFireNoBundledRule) {
  for (const auto& entry : fs::directory_iterator(kRulesDir / "tests")) {
    if (entry.path().extension() != ".lines") continue;
    for (const Case& c : ReadCases(entry.path())) {
      if (c.positive) continue;
      auto fired = Fired(c.line);
      EXPECT_TRUE(fired.empty()) << entry.path().filename() << ":" << c.line_no << " fired "
                                 << *fired.begin();
    }
  }
}

}  // namespace
}  // namespace rampart::detect
