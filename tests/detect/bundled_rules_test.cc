// Runs every bundled rule against its own log lines (rules/sigma/tests/<rule>.lines).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "detect/correlation.h"
#include "detect/live_engine.h"
#include "detect/log_parser.h"
#include "detect/sigma.h"
#include "support/recording_alert_handler.h"

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
    b.set_keep_correlations(true);  // checked by BundledCorrelationsTest
    ASSERT_TRUE(b.AddDirectory(kRulesDir.string()).ok());
    auto r = b.Build();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    rules_ = std::move(r).value();
    for (const auto& s : rules_->skipped()) ADD_FAILURE() << s.file << ": " << s.reason;
    matcher_ = std::make_unique<RuleMatcher>(*rules_);
  }

  std::set<std::string> Fired(const std::string& line) {
    Event ev;
    if (line.starts_with("{")) {
      EXPECT_TRUE(ParseJsonLine(line, &ev)) << line;
    } else {
      EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    }
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

// --- Correlation rules: each rule file with one has <rule>.sequence (see tests/README.md) ---

// An access log line or a JSON event as the engine's input, with every field the parser found.
SecurityEvent ToSecurityEvent(const std::string& line) {
  Event ev;
  bool ok = line.starts_with("{") ? ParseJsonLine(line, &ev) : ParseAccessLogLine(line, &ev);
  EXPECT_TRUE(ok) << line;
  SecurityEvent out;
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    if (ev.Has(f) && f != Field::kEventOriginal) out.Set(FieldName(f), ev.Get(f));
  }
  return out;
}

std::string ReplaceN(std::string s, int n) {
  for (auto at = s.find("{n}"); at != std::string::npos; at = s.find("{n}")) {
    s.replace(at, 3, std::to_string(n));
  }
  return s;
}

TEST(BundledCorrelationsTest, EveryCorrelationLoadsAndPassesItsSequence) {
  RuleSetBuilder b;
  b.set_keep_correlations(true);
  ASSERT_TRUE(b.AddDirectory(kRulesDir.string()).ok());
  ASSERT_GE(b.correlations().size(), 4u);
  std::map<std::string, std::set<std::string>> ids_by_stem;
  for (const auto& [origin, text] : b.correlations()) {
    auto c = ParseCorrelationRule(text, origin);
    ASSERT_TRUE(c.ok()) << origin << ": " << c.status().ToString();
    EXPECT_FALSE(c->info.attack.empty()) << origin << ": no ATT&CK technique tag";
    ids_by_stem[fs::path(origin).stem().string()].insert(c->info.id);
  }
  // The plain rules of a correlation's file count too: those that only feed it must raise
  // nothing of their own (they would add to the count on the lines that expect none).
  auto built = b.Build();
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  for (size_t i = 0; i < (*built)->size(); ++i) {
    const RuleInfo& rule = (*built)->rule(i);
    auto stem = ids_by_stem.find(fs::path(rule.file).stem().string());
    if (stem != ids_by_stem.end()) stem->second.insert(rule.id);
  }
  for (const auto& [stem, ids] : ids_by_stem) {
    SCOPED_TRACE(stem);
    fs::path seq = kRulesDir / "tests" / (stem + ".sequence");
    ASSERT_TRUE(fs::exists(seq)) << seq;
    ManualClock clock(1'769'760'000'000);
    testing::RecordingAlertHandler rec;
    LiveEngineOptions opt;
    opt.rule_dirs = {kRulesDir.string()};
    auto engine = LiveEngine::Create(opt, &clock, &rec);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    EXPECT_TRUE((*engine)->skipped().empty()) << (*engine)->skipped()[0].reason;
    const int64_t start = clock.NowMillis();
    // (A structured binding is named through a reference: clang 14 cannot capture one.)
    auto fired = [&, &rule_ids = ids] {
      size_t n = 0;
      for (const auto& a : rec.Take()) n += rule_ids.count(a.rule_id);
      return n;
    };
    std::ifstream in(seq);
    std::string line;
    int line_no = 0, pos = 0, neg = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      auto sp1 = line.find(' ');
      ASSERT_NE(sp1, std::string::npos) << seq << ":" << line_no;
      ASSERT_GT(line.size(), sp1 + 3) << seq << ":" << line_no;
      std::string when = line.substr(0, sp1);
      char expect = line[sp1 + 1];
      ASSERT_TRUE(expect == '+' || expect == '-') << seq << ":" << line_no;
      std::string event = line.substr(sp1 + 3);
      int64_t t = std::stoll(when);
      int count = 1, step = 0;
      if (auto x = when.find('x'); x != std::string::npos) {
        auto colon = when.find(':', x);
        ASSERT_NE(colon, std::string::npos) << seq << ":" << line_no;
        count = std::stoi(when.substr(x + 1, colon - x - 1));
        step = std::stoi(when.substr(colon + 1));
      }
      for (int i = 1; i <= count; ++i) {
        SecurityEvent ev = ToSecurityEvent(ReplaceN(event, i));
        ev.timestamp_millis = start + (t + static_cast<int64_t>(i - 1) * step) * 1000;
        clock.SetMillis(ev.timestamp_millis);
        (*engine)->Emit(std::move(ev));
        (*engine)->ProcessPending();
        size_t n = fired();
        bool want = expect == '+' && i == count;
        EXPECT_EQ(n, want ? 1u : 0u) << seq.filename() << ":" << line_no << " repetition " << i;
      }
      (expect == '+' ? pos : neg) += 1;
    }
    EXPECT_GE(pos, 1);
    EXPECT_GE(neg, 1);
  }
}

}  // namespace
}  // namespace rampart::detect
