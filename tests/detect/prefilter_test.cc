// The prefiltered matcher must give exactly what the exhaustive one gives. Lines are generated
// from benign MDM traffic, the EPMM exploit shapes, the bundled rules' test lines, and the string
// values of every rule (bundled and SigmaHQ) put into each field, raw, re-cased and
// percent-encoded, so that most rules are driven to match and to nearly match.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

const std::string kBundled = RAMPART_SOURCE_DIR "/rules/sigma";
const std::string kSigmaHq = RAMPART_SOURCE_DIR "/../shared/sigma";

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every quoted or bare scalar after "- " or ": " in the rule files: the values rules look for.
std::vector<std::string> RuleValues(const std::vector<std::string>& dirs) {
  std::set<std::string> values;
  static const std::regex kValue(
      R"((?:-|:)\s+'([^']{1,200})'|(?:-|:)\s+"([^"]{1,200})\"|-\s+([^\s'"#][^#\n]{0,200}))");
  for (const auto& dir : dirs) {
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.path().extension() != ".yml") continue;
      std::string text = ReadAll(e.path());
      for (std::sregex_iterator it(text.begin(), text.end(), kValue), end; it != end; ++it) {
        for (size_t g = 1; g <= 3; ++g) {
          if ((*it)[g].matched) values.insert((*it)[g].str());
        }
      }
    }
  }
  return {values.begin(), values.end()};
}

std::string PercentEncode(std::string_view s, std::mt19937& rng) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || (rng() % 3 == 0 && !std::isalnum(u))) {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// Quotes and backslashes would end the quoted log field; the parser sees them escaped.
std::string Quotable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out;
}

std::string Recase(std::string s, std::mt19937& rng) {
  for (char& c : s) {
    if (rng() % 2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::vector<std::string> GenerateLines() {
  std::vector<std::string> lines;
  static const char* kBenign[] = {
      "\"POST /mifs/services/CheckinService HTTP/1.1\" 200 812 \"-\" \"MobileIron/12.1.0 "
      "(iPhone; iOS 17.2.1)\"",
      "\"GET /mifs/c/appstore/fob/3/17/sha256:kid=1,st=1769760000,h=9f86d081884c7d659a2feaa0c55ad0"
      "15a3bf4f1b2b0b822cd15d6c15b0f00a08,et=1769763600/0f8fad5b.ipa HTTP/1.1\" 200 48213377 "
      "\"-\" \"MobileIron/12.1 CFNetwork/1410.0.3 Darwin/22.6.0\"",
      "\"GET /mifs/admin/rest/api/v2/device?limit=50&offset=100 HTTP/1.1\" 200 45123 "
      "\"https://mdm.example.eu/mifs/admin/\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
      "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\"",
      "\"GET /mifs/css/theme2.css HTTP/1.1\" 200 48213 \"https://mdm.example.eu/mifs/login.jsp\" "
      "\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"",
      "\"GET /mifs/images/logo.png?v=12.1 HTTP/1.1\" 304 - \"https://mdm.example.eu/mifs/\" "
      "\"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15\"",
      "\"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60"
      "id%60%5D/a.apk HTTP/1.1\" 404 196 \"-\" \"python-requests/2.31.0\"",
      "\"POST /mifs/403.jsp?k0f53cf964d387=yv66vgAAA HTTP/1.1\" 200 12 \"-\" \"curl/8.5.0\"",
      "\"GET /mifs/rs/api/v2/featureusage?format=%24%7B''.getClass()%7D HTTP/1.1\" 400 1 \"-\" "
      "\"-\"",
      "\"GET /mifs/css/mibasecss.css HTTP/1.1\" 200 18233127 \"-\" \"curl/8.5.0\"",
  };
  const std::string prefix = "mdm.example.eu:443 203.0.113.7 - - [30/Jan/2026:09:15:00 +0100] ";
  for (const char* b : kBenign) lines.push_back(prefix + b);
  for (const auto& e : std::filesystem::directory_iterator(kBundled + "/tests")) {
    if (e.path().extension() != ".lines") continue;
    std::istringstream in(ReadAll(e.path()));
    for (std::string l; std::getline(in, l);) {
      if (l.size() > 2 && (l[0] == '+' || l[0] == '-')) lines.push_back(l.substr(2));
    }
  }
  std::mt19937 rng(7);
  std::vector<std::string> values = RuleValues({kBundled, kSigmaHq});
  static const char* kMethods[] = {"GET", "POST", "PUT", "OPTIONS", "get"};
  static const char* kStatus[] = {"200", "404", "500", "302", "401"};
  for (const std::string& v : values) {
    for (int variant = 0; variant < 6; ++variant) {
      std::string value = variant % 2 ? Recase(v, rng) : v;
      if (variant >= 4) value = PercentEncode(value, rng);
      const std::string& other = values[rng() % values.size()];
      std::string path = "/mifs/" + std::string(rng() % 2 ? "" : "x/");
      std::string target, agent = "Mozilla/5.0", referrer = "-", host = "mdm.example.eu:443";
      switch (variant % 3) {
        case 0:
          target = value.starts_with("/") ? value : path + value;
          agent = other;
          break;
        case 1:
          target = path + "a?q=" + value + "&z=" + PercentEncode(other, rng);
          referrer = "https://" + other;
          break;
        default:
          target = path + "b.jsp";
          agent = value;
          host = other.substr(0, other.find(' ')) + ":443";
          break;
      }
      std::string line = host + " 198.51.100." + std::to_string(rng() % 255) +
                         " - - [30/Jan/2026:09:15:00 +0100] \"" + kMethods[rng() % 5] + " " +
                         Quotable(target) + " HTTP/1.1\" " + kStatus[rng() % 5] + " " +
                         std::to_string(rng() % 3 ? rng() % 5000 : rng() % 30000000) + " \"" +
                         Quotable(referrer) + "\" \"" + Quotable(agent) + "\"";
      lines.push_back(std::move(line));
      // The same values as a JSON event, where fields are copies rather than parts of the line.
      std::string json = R"({"remote_addr":"198.51.100.9","request_method":"GET","status":404,)"
                         R"("request_uri":")" +
                         Quotable(target) + R"(","http_user_agent":")" + Quotable(agent) +
                         R"(","host":")" + Quotable(host.substr(0, host.find(':'))) + "\"}";
      lines.push_back(std::move(json));
    }
  }
  return lines;
}

// The bundled rules and, where present, SigmaHQ's.
std::unique_ptr<RuleSet> AllRules() {
  RuleSetBuilder b;
  EXPECT_TRUE(b.AddDirectory(kBundled).ok());
  if (std::filesystem::exists(kSigmaHq)) {
    EXPECT_TRUE(b.AddDirectory(kSigmaHq).ok());
  }
  auto rules = b.Build();
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? std::move(rules).value() : nullptr;
}

// One webserver rule per entry, each the YAML under its `detection:` (indented by two).
std::unique_ptr<RuleSet> WebRules(const std::vector<std::string>& detections) {
  RuleSetBuilder b;
  for (const std::string& detection : detections) {
    std::string rule = "title: t\nlogsource: {category: webserver}\ndetection:\n  " + detection +
                       "\nlevel: high\n";
    EXPECT_TRUE(b.AddRuleText(rule, "t.yml").ok()) << rule;
  }
  auto rules = b.Build();
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? std::move(rules).value() : nullptr;
}

// Two rules on the referrer, an `re` and a literal (the literal puts the field's values
// through the memo): '^ref-[0-9]*5$' and '-77'.
std::unique_ptr<RuleSet> ReferrerRules() {
  return WebRules({"sel: {'cs-referer|re': '^ref-[0-9]*5$'}\n  condition: sel",
                   "sel: {'cs-referer|contains': '-77'}\n  condition: sel"});
}

// Matches the event both ways and expects the same rules; true when some rule matched.
bool MatchesAsExhaustively(RuleMatcher* fast, RuleMatcher* full, const Event& ev,
                           std::string_view what) {
  std::vector<uint32_t> a, e;
  fast->Match(ev, &a);
  full->Match(ev, &e);
  EXPECT_EQ(a, e) << what;
  return !e.empty();
}

// Matches events of one field each both ways (MatchesAsExhaustively); the number that matched.
size_t MatchValuesAsExhaustively(RuleMatcher* fast, RuleMatcher* full, Field field,
                                 const std::vector<std::string>& values) {
  Event ev;
  size_t matching = 0;
  for (const std::string& value : values) {
    ev.Clear();
    ev.Set(field, value);
    matching += MatchesAsExhaustively(fast, full, ev, value);
  }
  return matching;
}

TEST(PrefilterTest, SameResultsAsExhaustiveMatchingOnGeneratedLines) {
  RuleSetBuilder b;
  ASSERT_TRUE(b.AddDirectory(kBundled).ok());
  bool have_sigmahq = std::filesystem::exists(kSigmaHq);
  if (have_sigmahq) {
    ASSERT_TRUE(b.AddDirectory(kSigmaHq).ok());
  }
  auto rules = b.Build();
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  RuleMatcher fast(**rules, MatchMode::kPrefiltered);
  RuleMatcher full(**rules, MatchMode::kExhaustive);
  std::vector<std::string> lines = GenerateLines();
  ASSERT_GT(lines.size(), have_sigmahq ? 10000u : 100u);
  Event ev;
  std::vector<uint32_t> a, e;
  size_t parsed = 0, matching = 0;
  std::set<uint32_t> rules_hit;
  for (const std::string& line : lines) {
    bool ok = line.starts_with("{") ? ParseJsonLine(line, &ev) : ParseAccessLogLine(line, &ev);
    if (!ok) continue;
    ++parsed;
    fast.Match(ev, &a);
    full.Match(ev, &e);
    ASSERT_EQ(a, e) << line;
    if (!e.empty()) ++matching;
    rules_hit.insert(e.begin(), e.end());
  }
  // The generator must exercise both paths: many lines that match, most rules matched, and
  // many lines that the prefilter settles alone.
  EXPECT_GT(parsed, lines.size() * 9 / 10);
  EXPECT_GT(matching, parsed / 10);
  EXPECT_GT(rules_hit.size(), (*rules)->size() / 2);
  EXPECT_LT(fast.full_scans(), fast.events());
  EXPECT_EQ(full.full_scans(), full.events());
}

// The matcher remembers, per field, what its checks found in recent values. Results must not
// depend on what it remembers: the same lines in other orders (repeated values found in the
// memo), then after a stretch of values that never repeat (which turns the memo off for a
// while) all match as exhaustive matching does.
TEST(PrefilterTest, RememberedValuesMatchAsFreshOnes) {
  auto rules = AllRules();
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  std::vector<std::string> generated = GenerateLines();
  generated.resize(std::min<size_t>(generated.size(), 3000));
  std::vector<std::string> lines;
  std::mt19937 rng(7);
  auto shuffled_pass = [&] {
    std::shuffle(generated.begin(), generated.end(), rng);
    lines.insert(lines.end(), generated.begin(), generated.end());
  };
  shuffled_pass();
  shuffled_pass();
  for (int i = 0; i < 5000; ++i) {
    lines.push_back("10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"GET /u/" + std::to_string(i) +
                    " HTTP/1.1\" 200 1 \"-\" \"agent-" + std::to_string(i) + "\"");
  }
  shuffled_pass();
  lines.push_back(
      "10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,"
      "st=theValue%20%20,et=1337133713,h=gPath%5B%60id%60%5D/a.ipa HTTP/1.1\" 404 1 \"-\" \"x\"");
  Event ev;
  size_t matching = 0;
  for (const std::string& line : lines) {
    bool ok = line.starts_with("{") ? ParseJsonLine(line, &ev) : ParseAccessLogLine(line, &ev);
    if (ok) matching += MatchesAsExhaustively(&fast, &full, ev, line);
  }
  EXPECT_GT(matching, 100u);
  EXPECT_LT(fast.full_scans(), fast.events());
}

// Request targets that differ only in runs of hex digits share the marks of their masked form
// (HexRunMask). Rules here put literals, exact values and an `re` gate right at and across
// such runs, in the target and in its parts, and the targets plant their pieces there now and
// then, so that a mask that wrote over a byte some literal can reach would show as a
// difference from exhaustive matching.
TEST(PrefilterTest, TargetsOfOneMaskedFormMatchAsExhaustively) {
  auto rules = WebRules({
      "sel: {'c-uri|contains': 'chat_id=2090761833'}\n  condition: sel",
      "sel: {'c-uri|contains': 'st=17697'}\n  condition: sel",
      "sel: {'c-uri|contains': 'k0f53cf964d3'}\n  condition: sel",
      "sel: {'cs-uri-query|contains': 'h=dead-'}\n  condition: sel",
      "sel: {'cs-uri-query|contains': '7d2-64'}\n  condition: sel",
      "sel: {'cs-uri-stem|endswith': '/abc1.ipa'}\n  condition: sel",
      "sel: {'cs-uri-stem|contains': 'fob/3/1'}\n  condition: sel",
      "sel: {'c-uri-query': 'kid=1,st=1234'}\n  condition: sel",
      "sel: {'cs-uri-extension': 'ipa'}\n  sub: {'c-uri|contains': 'beef.'}\n  condition: sel "
      "and sub",
      "sel: {'c-uri|re': ',h=[0-9a-f]*z'}\n  condition: sel",
  });
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  std::mt19937 rng(1125);
  const std::string hex = "0123456789abcdef";
  // A hex digit, now and then an upper-case one (which the case-sensitive `re` below tells
  // apart, so that a form's `re` findings must not stand for its other targets).
  auto digit = [&] { return rng() % 40 == 0 ? "ABCDEF"[rng() % 6] : hex[rng() % 16]; };
  // A run of n hex digits. Its ends, which these rules' literals can reach, come from two
  // patterns (so that masked forms repeat) and its middle is drawn at random; a third of the
  // time the run starts with `head`, a third of the time it ends with `tail`, overwritten in
  // place so that planted and plain runs have one layout and differ only where a literal is.
  auto run = [&](size_t n, std::string_view head = {}, std::string_view tail = {}) {
    const char* ends = rng() % 2 ? "17697d2b0c4e6" : "2090761833abc";
    std::string v;
    for (size_t i = 0; i < n; ++i) v.push_back(i < 11 || i + 4 >= n ? ends[i % 13] : digit());
    if (!head.empty() && rng() % 3 == 0) v.replace(0, head.size(), head);
    if (!tail.empty() && rng() % 3 == 0) v.replace(n - tail.size(), tail.size(), tail);
    return v;
  };
  Event ev;
  size_t matching = 0;
  std::vector<uint32_t> hits;
  std::set<uint32_t> rules_hit;
  for (int i = 0; i < 20000; ++i) {
    std::string target;
    switch (rng() % 3) {
      case 0:
        target = "/mifs/c/appstore/fob/3/" + std::to_string(rng() % 3 + 1) +
                 "/sha256:kid=1,st=" + run(10, "17697") + ",h=" + run(32) + (rng() % 4 ? "" : "z") +
                 ",et=" + run(10) + "/" + run(8, {}, "7d2") + "-" + run(4, "64") + "-" + run(4) +
                 "-" + run(12) + ".ipa";
        break;
      case 1:
        target = "/x/chat_id=" + run(14, "2090761833") + ",k" + run(16, "0f53cf964d3") + "/" +
                 run(4, "abc1") + ".ipa";
        break;
      default:
        // The query sometimes ends after st, for the exact value.
        target = "/s/" + run(8, {}, "beef") + ".ipa?kid=1,st=" + run(4, "1234");
        if (rng() % 2) {
          target += "&h=" + run(4, "dead") + "-x" + run(6) + "&u=" + run(8, {}, "7d2") + "-" +
                    run(4, "64");
        }
        break;
    }
    std::string line = "10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"GET " + target +
                       " HTTP/1.1\" 200 1 \"-\" \"agent\"";
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    matching += MatchesAsExhaustively(&fast, &full, ev, target);
    full.Match(ev, &hits);
    rules_hit.insert(hits.begin(), hits.end());
  }
  // The forms must have been taken, and every rule must have matched, for the comparison to
  // mean anything.
  EXPECT_GT(fast.shape_hits(), 3000u);
  EXPECT_GT(matching, 1000u);
  EXPECT_EQ(rules_hit.size(), rules->size());
}

// The same raw value with its decoded form and without (an in-process event may carry none):
// the two match differently, in either order, however the memo was filled (a value is found
// in it from its third sighting on, so each form comes four times).
TEST(PrefilterTest, RememberedValueWithoutDecodedFormIsNotTakenForOneWithIt) {
  auto rules = WebRules({"sel: {'c-uri|contains': '../etc/passwd'}\n  condition: sel"});
  ASSERT_NE(rules, nullptr);
  RuleMatcher m(*rules);
  Event ev;
  std::vector<uint32_t> hits;
  for (bool decode : {false, true, false, true, false, true, false, true}) {
    ev.Clear();
    ev.Set(Field::kUrlOriginal, "/x?f=..%2F..%2Fetc%2Fpasswd");
    if (decode) ev.DecodeField(Field::kUrlOriginal);
    m.Match(ev, &hits);
    EXPECT_EQ(hits.size(), decode ? 1u : 0u) << decode;
  }
}

// The parts of a request target are remembered with it by where they sit: the same target
// with its path cut elsewhere (or set apart from it) is a different key.
TEST(PrefilterTest, RememberedTargetPartsAreKeyedByWhereTheySit) {
  // The second rule checks url.original too, so that the parts are remembered with it.
  auto rules = WebRules({"sel: {'cs-uri-stem|endswith': '/evil.jsp'}\n  condition: sel",
                         "sel: {'c-uri|contains': '/elsewhere/'}\n  condition: sel"});
  ASSERT_NE(rules, nullptr);
  RuleMatcher m(*rules);
  const std::string target = "/x/evil.jsp?q=1";
  const std::string apart = "/x/evil.jsp";
  Event ev;
  std::vector<uint32_t> hits;
  // 0: path "/x" inside the target; 1: path "/x/evil.jsp" inside it; 2: the same path as a
  // separate string.
  for (int shape : {0, 1, 0, 2, 0, 1}) {
    ev.Clear();
    std::string_view t(target);
    ev.Set(Field::kUrlOriginal, t);
    ev.Set(Field::kUrlPath, shape == 0 ? t.substr(0, 2) : shape == 1 ? t.substr(0, 11) : apart);
    m.Match(ev, &hits);
    EXPECT_EQ(hits.size(), shape == 0 ? 0u : 1u) << shape;
  }
}

// What an `re` pattern found is remembered with the value; a value that takes the place of
// another in the memo must not inherit it. User agents that match and ones that do not, in
// turn, each three times in a row (remembered at the second, found at the third, when its
// `re` findings are reused), more of them than the memo holds, so that each place is taken
// again and again.
TEST(PrefilterTest, RememberedRegexResultsBelongToTheirValue) {
  // The second rule puts a literal on the field, so that its values go through the memo.
  auto rules = WebRules({"sel: {'c-useragent|re': '^[a-z]{3}[0-9]{3}$'}\n  condition: sel",
                         "sel: {'c-useragent|contains': 'zzz'}\n  condition: sel"});
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  std::vector<std::string> agents;
  for (int i = 0; i < 12000; ++i) {
    std::string agent = "agent-" + std::to_string(i);
    if (i % 2 == 0) {
      agent = {static_cast<char>('a' + i % 26), static_cast<char>('a' + i / 26 % 26),
               static_cast<char>('a' + i / 676 % 26)};
      agent += std::to_string(100 + i % 900);
    }
    agents.insert(agents.end(), 3, agent);
  }
  size_t matching = MatchValuesAsExhaustively(&fast, &full, Field::kUserAgentOriginal, agents);
  EXPECT_EQ(matching, 3u * 6000);
  // The `re` check is exact here, so only the matching lines needed the full scans: a value
  // that kept another's findings would add candidates.
  EXPECT_EQ(fast.full_scans(), matching);
}

// More values keep coming than the memo has places, so that every set is held by values found
// again: the values seen once are then looked at for their event only, and must match as a
// fresh lookup does, and so must the held values when they are found again.
TEST(PrefilterTest, ValuesLookedAtWhileTheMemoIsFullMatchAsExhaustively) {
  // (The referrer has one of the smaller tables, which 1,000 values fill.)
  auto rules = ReferrerRules();
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  // 1,000 values that come back (one in ten matches the `re`), each twice in a row so that it
  // is found again, then one value that never comes back and matches the literal: taking a
  // held value's findings for that one would lose its match.
  std::vector<std::string> referrers;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 9000; ++i) {
      referrers.push_back(i % 3 == 2 ? "once-" + std::to_string(round * 9000 + i) + "-77"
                                     : "ref-" + std::to_string(1000 + (i / 3 * 7) % 1000));
    }
  }
  size_t matching = MatchValuesAsExhaustively(&fast, &full, Field::kHttpRequestReferrer, referrers);
  EXPECT_EQ(matching, 4u * (3000 + 600));
}

// A value missing from the memo is remembered only when it comes again; a filter of hashes says
// which values came lately, and starts again once it holds 32,768. Far more values that come
// once than that, between values that come back (remembered again after each restart): all
// match as exhaustive matching does.
TEST(PrefilterTest, ValuesSeenOnceAcrossTheirFiltersRestartsMatchAsExhaustively) {
  auto rules = ReferrerRules();
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  std::vector<std::string> referrers;
  size_t expected = 0;
  for (int i = 0; i < 80000; ++i) {
    std::string v = i % 4 == 3 ? "ref-" + std::to_string(i / 4 % 200)
                               : "once-" + std::to_string(i) + (i % 8 == 0 ? "-77" : "");
    expected += (v.starts_with("ref-") && v.ends_with('5')) || v.find("-77") != std::string::npos;
    referrers.push_back(std::move(v));
  }
  size_t matching = MatchValuesAsExhaustively(&fast, &full, Field::kHttpRequestReferrer, referrers);
  EXPECT_EQ(matching, expected);
  EXPECT_GT(matching, 12000u);
}

// Benign MDM requests, each a new target with a path and a query inside it, need no full scan
// with every rule loaded: the target's one literal scan answers for its parts (a scan that
// failed would mark all of the target's matchers and send each line to the full scans).
TEST(PrefilterTest, BenignTargetsAreAnsweredByTheTargetScan) {
  auto rules = AllRules();
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  Event ev;
  for (int i = 0; i < 300; ++i) {
    std::string target =
        i % 2 == 0
            ? "/mifs/admin/rest/api/v2/device?limit=50&offset=" + std::to_string(i * 50) +
                  "&sortField=name"
            : "/mifs/c/appstore/fob/3/" + std::to_string(i) +
                  "/sha256:kid=1,st=1769829446,h=54c6ba2b" + std::to_string(1000 + i) + "/app.ipa";
    std::string line = "10.1.2.3 - - [30/Jan/2026:02:13:24 +0100] \"GET " + target +
                       " HTTP/1.1\" 200 4475 \"-\" \"MobileIron/12.3 CFNetwork/1410.0.6\"";
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    EXPECT_FALSE(MatchesAsExhaustively(&fast, &full, ev, line));
  }
  EXPECT_EQ(fast.full_scans(), 0u);
}

// Lines matched from one prepared buffer give what they give one by one, and an event whose
// line is elsewhere is searched on its own.
TEST(PrefilterTest, PreparedLinesMatchAsLinesSearchedOneByOne) {
  auto rules = AllRules();
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  std::vector<std::string> lines = GenerateLines();
  std::erase_if(lines, [](const std::string& l) { return l.starts_with("{"); });
  lines.resize(std::min<size_t>(lines.size(), 2000));
  std::string buffer;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const std::string& l : lines) {
    spans.emplace_back(buffer.size(), l.size());
    buffer += l;  // no separator: a finding may run from one line into the next
  }
  fast.PrepareLines(buffer);
  Event ev;
  size_t matching = 0, parsed = 0;
  // The first pass reads the prepared buffer itself, the second a copy of it.
  const std::string copy = buffer;
  for (const std::string* text : std::array<const std::string*, 2>{&buffer, &copy}) {
    for (const auto& [offset, size] : spans) {
      std::string_view line(text->data() + offset, size);
      if (!ParseAccessLogLine(line, &ev)) continue;
      ++parsed;
      matching += MatchesAsExhaustively(&fast, &full, ev, line);
    }
  }
  EXPECT_GT(parsed, 2000u);
  EXPECT_GT(matching, 200u);
}

// A keyword found across two prepared lines counts for neither; one at a line's very start or
// very end counts for it.
TEST(PrefilterTest, PreparedKeywordsCountOnlyInsideTheirLine) {
  auto rules = WebRules({"keywords: ['zqjx-marker']\n  condition: keywords"});
  ASSERT_NE(rules, nullptr);
  RuleMatcher m(*rules);
  const std::string request =
      " - - [30/Jan/2026:09:15:00 +0100] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"";
  const std::vector<std::string> lines = {
      "10.0.0.1" + request + " zqjx-", "marker 10.0.0.1" + request,
      "10.0.0.1" + request + " zqjx-marker", "zqjx-marker 10.0.0.1" + request};
  std::string buffer;
  for (const std::string& l : lines) buffer += l;
  m.PrepareLines(buffer);
  Event ev;
  std::vector<uint32_t> hits;
  std::vector<size_t> offsets;
  for (size_t i = 0, at = 0; i < lines.size(); at += lines[i].size(), ++i) offsets.push_back(at);
  // In buffer order, then backwards and jumping about (lines need not come in order).
  for (const std::vector<size_t>& order :
       std::vector<std::vector<size_t>>{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}}) {
    for (size_t i : order) {
      std::string_view line(buffer.data() + offsets[i], lines[i].size());
      ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
      m.Match(ev, &hits);
      EXPECT_EQ(hits.size(), i >= 2 ? 1u : 0u) << line;
    }
  }
  // The prefilter alone settled the first two each time: the split keyword made neither a
  // candidate.
  EXPECT_EQ(m.full_scans(), 6u);
}

// Method and status matches are counted last and only for rules that can still complete:
// rules made of them alone, or of them and a keyword or an `re` pattern, still match.
TEST(PrefilterTest, BroadMatchersStillCompleteTheirRules) {
  auto rules = WebRules({
      "sel: {cs-method: 'PUT', sc-status: 201}\n  condition: sel",
      "sel: {sc-status: 500}\n  keywords: ['zz-key']\n  condition: sel and keywords",
      "sel: {sc-status: 404, 'cs-uri-query|re': 'q=[0-9]{3}$'}\n  condition: sel",
      "sel: {sc-status: 200, 'cs-uri-stem|contains': '/fob/'}\n  condition: sel",
  });
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  const std::string prefix = "10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"";
  Event ev;
  size_t matched = 0;
  for (const std::string& line : {
           prefix + "PUT /a HTTP/1.1\" 201 1 \"-\" \"x\"",
           prefix + "GET /zz-key HTTP/1.1\" 500 1 \"-\" \"x\"",
           prefix + "GET /a?q=123 HTTP/1.1\" 404 1 \"-\" \"x\"",
           prefix + "GET /a/fob/b HTTP/1.1\" 200 1 \"-\" \"x\"",
           prefix + "GET /a HTTP/1.1\" 200 1 \"-\" \"x\"",
       }) {
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    matched += MatchesAsExhaustively(&fast, &full, ev, line);
  }
  EXPECT_EQ(matched, 4u);
}

// Short words among a rule's keywords ("POST", 200) are left out of the line's keyword scan when
// the rule has other clauses; rules made of such words alone keep them.
TEST(PrefilterTest, ShortKeywordWordsStillCompleteTheirRules) {
  auto rules = WebRules({
      "keywords:\n    '|all': ['POST', 200, 'VirtualDirectory']\n  condition: keywords",
      "keywords:\n    '|all': ['PUT', 201]\n  condition: keywords",
  });
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  const std::string prefix = "10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"";
  const std::vector<std::string> lines = {
      prefix + "POST /ecp/VirtualDirectory HTTP/1.1\" 200 1 \"-\" \"x\"",
      prefix + "POST /ecp/VirtualDirectory HTTP/1.1\" 500 1 \"-\" \"x\"",
      prefix + "POST /ecp/x HTTP/1.1\" 200 1 \"-\" \"x\"",
      prefix + "PUT /a HTTP/1.1\" 201 1 \"-\" \"x\"",
      prefix + "PUT /a HTTP/1.1\" 204 1 \"-\" \"x\"",
  };
  std::string buffer;
  for (const std::string& line : lines) buffer += line + "\n";
  fast.PrepareLines(buffer);
  Event ev;
  std::vector<bool> matched;
  for (size_t at = 0; at < buffer.size();) {
    size_t end = buffer.find('\n', at);
    std::string_view line(buffer.data() + at, end - at);
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    matched.push_back(MatchesAsExhaustively(&fast, &full, ev, line));
    at = end + 1;
  }
  fast.PrepareLines({});
  EXPECT_EQ(matched, (std::vector<bool>{true, false, false, true, false}));
  // The words are not required: the second line, with VirtualDirectory but not 200, is a
  // candidate (it would not be if 200 were still searched for); PUT and 201 still are.
  EXPECT_EQ(fast.full_scans(), 3u);
}

// Method, status and virtual host are remembered under one key: the same bytes in another
// field are another key.
TEST(PrefilterTest, RememberedContextIsKeyedByField) {
  auto rules =
      WebRules({"sel: {cs-method: 'abc'}\n  other: {sc-status: 599}\n  "
                "host: {'cs-host|contains': 'never.example'}\n  "
                "condition: sel or other or host"});
  ASSERT_NE(rules, nullptr);
  RuleMatcher m(*rules);
  Event ev;
  std::vector<uint32_t> hits;
  for (bool method : {false, true, false, true}) {
    ev.Clear();
    ev.Set(method ? Field::kHttpRequestMethod : Field::kHttpResponseStatusCode, "abc");
    ev.Set(Field::kDestinationDomain, "mdm.example.eu");
    m.Match(ev, &hits);
    EXPECT_EQ(hits.size(), method ? 1u : 0u) << method;
  }
}

// Rules on fields the memo does not keep (the whole line as event.original), values too long
// for it, request targets in absolute form (no path), and a clause that OR-s a method with a
// target, all match as exhaustive matching says.
TEST(PrefilterTest, UnrememberedAndUnusualValuesMatchAsExhaustively) {
  auto rules = WebRules({
      "sel: {'event.original|contains': 'curl/8'}\n  condition: sel",
      "sel: {'c-useragent|endswith': 'tail-marker'}\n  condition: sel",
      "a: {cs-method: 'PUT'}\n  b: {'c-uri|contains': '/x/'}\n  "
      "c: {'c-useragent|contains': 'zz'}\n  condition: (a or b) and c",
      "sel: {'cs-host|contains': 'evil'}\n  condition: sel",
  });
  ASSERT_NE(rules, nullptr);
  RuleMatcher fast(*rules, MatchMode::kPrefiltered);
  RuleMatcher full(*rules, MatchMode::kExhaustive);
  const std::string prefix = "10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] \"";
  const std::string long_agent = std::string(2000, 'a') + "tail-marker";
  Event ev;
  size_t matched = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& line : {
             prefix + "GET /a HTTP/1.1\" 200 1 \"-\" \"curl/8.5.0\"",
             prefix + "GET /a HTTP/1.1\" 200 1 \"-\" \"" + long_agent + "\"",
             prefix + "GET /a HTTP/1.1\" 200 1 \"-\" \"" + long_agent + "x\"",
             prefix + "PUT /a HTTP/1.1\" 200 1 \"-\" \"zz\"",
             prefix + "GET /x/a HTTP/1.1\" 200 1 \"-\" \"zz\"",
             prefix + "GET /a HTTP/1.1\" 200 1 \"-\" \"zz\"",
             prefix + "GET http://evil.example HTTP/1.1\" 200 1 \"-\" \"x\"",
             prefix + "GET http://evil.example HTTP/1.1\" 200 1 \"-\" \"x\"",
         }) {
      ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
      matched += MatchesAsExhaustively(&fast, &full, ev, line);
    }
  }
  // Per pass: curl, the long agent, PUT+zz, /x/+zz and both absolute targets (their host is
  // the request's host).
  EXPECT_EQ(matched, 12u);
}

// Values seen only after percent-decoding, or only in another case, still reach the rules.
TEST(PrefilterTest, DecodedAndRecasedValuesAreNotFilteredOut) {
  RuleSetBuilder b;
  ASSERT_TRUE(b.AddRuleText(R"(
title: t
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: '/Evil/Path'
    c-useragent|endswith: '='
  condition: sel
level: high
)",
                            "t.yml")
                  .ok());
  auto rules = b.Build();
  ASSERT_TRUE(rules.ok());
  RuleMatcher m(**rules);
  Event ev;
  std::vector<uint32_t> hits;
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] "GET /a%2FeVIL%2fpath HTTP/1.1" 200 1 "-" "x=")",
      &ev));
  m.Match(ev, &hits);
  EXPECT_EQ(hits.size(), 1u);
  // The literal outside its field (here in the referrer) must not count for the URL.
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.1 - - [30/Jan/2026:09:15:00 +0100] "GET /a HTTP/1.1" 200 1 "/evil/path" "x=")",
      &ev));
  m.Match(ev, &hits);
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(m.full_scans(), 1u);
}

}  // namespace
}  // namespace rampart::detect
