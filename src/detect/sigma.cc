#include "detect/sigma.h"

#include <hs/hs.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/ip.h"
#include "common/yaml_quotes.h"
#include "detect/class_sequence.h"
#include "detect/hex_run_mask.h"
#include "detect/hs_runtime.h"
#include "detect/quick_filter.h"
#include "detect/regex_literals.h"

namespace rampart::detect {
namespace {

// Slot kFieldCount holds the `keywords` matchers, which search the whole line.
constexpr size_t kKeywordSlot = kFieldCount;
constexpr size_t kSlotCount = kFieldCount + 1;
// A bit per slot: present fields, remembered slots, gates, regexes done.
using SlotMask = uint64_t;
static_assert(kSlotCount <= 64, "the matcher keeps a 64-bit mask of slots");
constexpr SlotMask SlotBit(size_t slot) {
  return SlotMask{1} << slot;
}
static_assert(std::endian::native == std::endian::little, "HashValue's tail load assumes it");
// std::regex backtracks recursively; values longer than this are not given to the fallback.
constexpr size_t kMaxFallbackValue = 64 * 1024;
// RuleMatcher's memo of prefilter marks per slot: entries per slot, the longest value kept,
// and how it decides that a slot's values do not repeat (see RuleMatcher::Impl::MemoStats).
// The request target and the user agent take by far the most distinct values in web logs
// (signed download links, device and OS versions), so their tables are larger.
constexpr size_t kMemoEntries = 1024;
constexpr size_t kWideMemoEntries = 4096;
static_assert(std::has_single_bit(kMemoEntries) && std::has_single_bit(kWideMemoEntries) &&
                  kMemoEntries >= 4 && kWideMemoEntries >= 4,
              "memo sets are pairs of entries indexed by hash bits (at least one bit)");
constexpr size_t kMaxMemoValue = 512;
static_assert(kMaxMemoValue <= UINT16_MAX, "memo ways keep a key's size in 16 bits");
// Bits of RuleMatcher's filter of values seen once lately, in 64-bit words.
constexpr size_t kSeenOnceWords = 4096;
constexpr uint32_t kMemoProbe = 4096;
constexpr uint32_t kMemoBypass = 65536;
// RuleMatcher::PrepareLines gives up (and lines are searched one by one) past this many
// findings in one buffer.
constexpr size_t kMaxPreparedHits = size_t{1} << 20;
// The largest SigmaHQ web rule has a few hundred values; this bounds what one rule may cost.
constexpr size_t kMaxRuleNodes = 20000;

enum class MatcherKind : uint8_t {
  kHs,         // compiled into the slot's Vectorscan database
  kExact,      // case-insensitive equality with a literal: one hash lookup per field value
  kRegex,      // `re` pattern Vectorscan refused; std::regex over the value
  kNull,       // `field: null`: absent or empty
  kExists,     // `field|exists: true`
  kNotExists,  // `field|exists: false`
  kCidr,       // `field|cidr`
};

struct MatcherDef {
  MatcherKind kind = MatcherKind::kHs;
  uint8_t slot = 0;
  bool from_re = false;
  unsigned flags = 0;
  std::string pattern;  // Vectorscan/std::regex pattern, or the CIDR text
  std::shared_ptr<const std::regex> regex;
  IpNetwork net;
};

struct Node {
  enum class Op : uint8_t { kAnd, kOr, kNot, kLeaf, kConst };
  Op op = Op::kConst;
  bool value = false;
  uint32_t matcher = 0;
  std::vector<uint32_t> kids;
};

struct ParsedRule {
  RuleInfo info;
  std::vector<Node> nodes;
  uint32_t root = 0;
  bool skipped = false;
  std::string reason;
  // The file's line (1-based) of the value each matcher came from first in this rule, so that
  // a pattern refused when the rules are built is named by where it is written.
  std::vector<std::pair<uint32_t, int>> matcher_lines;
};

// "line N: " for a node of a document that starts at line `first_line` (0-based) of its file,
// or nothing when yaml-cpp does not know where the node is.
std::string LinePrefix(const YAML::Node& node, int first_line) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return "";
  return "line " + std::to_string(first_line + mark.line + 1) + ": ";
}

struct FieldAlias {
  std::string_view name;
  Field field;
};

// W3C extended log names used by SigmaHQ's webserver and proxy rules. cs-uri-query is mapped to
// the whole request target: SigmaHQ's webserver rules write path fragments under it
// ("cs-uri-query|contains: '/vpns/portal/scripts/'"), so a query-only mapping would miss them,
// and a true query substring is always part of the target too (under startswith, equality,
// null and exists it is the query: ParseFieldEntry).
constexpr std::array<FieldAlias, 31> kSigmaFields = {{
    {"cs-uri-stem", Field::kUrlPath},
    {"cs-uri-query", Field::kUrlOriginal},
    {"c-uri-query", Field::kUrlQuery},
    {"cs-uri", Field::kUrlOriginal},
    {"c-uri", Field::kUrlOriginal},
    {"uri", Field::kUrlOriginal},
    {"url", Field::kUrlOriginal},
    {"c-uri-stem", Field::kUrlPath},
    {"c-uri-extension", Field::kUrlExtension},
    {"cs-uri-extension", Field::kUrlExtension},
    {"cs-method", Field::kHttpRequestMethod},
    {"c-method", Field::kHttpRequestMethod},
    {"sc-status", Field::kHttpResponseStatusCode},
    {"sc-bytes", Field::kHttpResponseBodyBytes},
    {"c-useragent", Field::kUserAgentOriginal},
    {"cs-user-agent", Field::kUserAgentOriginal},
    {"cs(User-Agent)", Field::kUserAgentOriginal},
    {"cs-host", Field::kDestinationDomain},
    {"r-dns", Field::kDestinationDomain},
    {"cs-referer", Field::kHttpRequestReferrer},
    {"cs-referrer", Field::kHttpRequestReferrer},
    {"cs(Referer)", Field::kHttpRequestReferrer},
    {"c-ip", Field::kSourceIp},
    {"src_ip", Field::kSourceIp},
    {"clientip", Field::kSourceIp},
    {"dst_ip", Field::kDestinationIp},
    {"s-ip", Field::kDestinationIp},
    {"cs-username", Field::kUserName},
    {"cs-cookie", Field::kHttpRequestCookie},
    {"cs-content-type", Field::kHttpRequestMimeType},
    {"s-computername", Field::kHostName},
}};

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 120)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  if (s.size() > 120) out += "...";
  out += "'";
  return out;
}

void AppendLiteral(char c, std::string* out) {
  auto u = static_cast<unsigned char>(c);
  if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_') {
    out->push_back(c);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\x");
  out->push_back(kHex[u >> 4]);
  out->push_back(kHex[u & 15]);
}

// Sigma wildcards: '*' any run, '?' one character; a backslash escapes '*', '?' and '\' only.
std::string GlobToRegex(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size() && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
      AppendLiteral(v[++i], &out);
    } else if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += ".";
    } else {
      AppendLiteral(c, &out);
    }
  }
  return out;
}

// The value with its escapes removed, lower-cased, when it holds no wildcard.
bool PlainLiteral(std::string_view v, std::string* out) {
  out->clear();
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size() && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
      c = v[++i];
    } else if (c == '*' || c == '?') {
      return false;
    }
    out->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return true;
}

bool UsesBits(MatcherKind kind) {
  return kind == MatcherKind::kHs || kind == MatcherKind::kExact;
}

bool GlobMatch(std::string_view pattern, std::string_view name) {
  // Only '*' is a wildcard in selection names ("selection_*").
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == name;
  std::string_view head = pattern.substr(0, star);
  if (!name.starts_with(head)) return false;
  std::string_view rest = pattern.substr(star + 1);
  std::string_view tail = name.substr(head.size());
  if (rest.empty()) return true;
  for (size_t i = 0; i <= tail.size(); ++i) {
    if (GlobMatch(rest, tail.substr(i))) return true;
  }
  return false;
}

class ConditionParser;

// A YAML stream cut into its documents, each with the 0-based line it starts on. yaml-cpp
// 0.7's LoadAll, on some malformed text (a line starting with ',' after a marker, a '%'
// line inside a document, ...), keeps returning empty documents without reading on and
// allocates until the process dies (jbeder/yaml-cpp#1319); Load parses one document and
// returns. So the stream is cut here, at the marker lines that end a document ("---" starts
// the next one, "..." ends this one), and each part is given to Load. Parts holding nothing
// but blank, comment and directive lines go with the document that follows them.
struct YamlPart {
  std::string_view text;
  size_t first_line;
  // 0-based line of the first line with content besides markers, if any. Where Load gives
  // nothing for a part that has one, it stopped at something it could not read.
  std::optional<size_t> body_line;
};

// `line` includes its '\n'.
bool StartsWithMarker(std::string_view line, std::string_view marker) {
  if (!line.starts_with(marker)) return false;
  return line.size() == marker.size() ||
         std::string_view(" \t\r\n").find(line[marker.size()]) != std::string_view::npos;
}

std::vector<YamlPart> SplitYamlDocuments(std::string_view yaml) {
  std::vector<YamlPart> parts;
  size_t begin = 0, begin_line = 0, line_no = 0;
  bool marked = false;  // the current part has a marker line
  std::optional<size_t> body;
  auto close = [&](size_t end, size_t next_line) {
    if (marked || body) {
      parts.push_back({yaml.substr(begin, end - begin), begin_line, body});
      begin = end;
      begin_line = next_line;
    }
    marked = false;
    body.reset();
  };
  // Content: a character that is not blank and does not start a comment.
  auto has_content = [](std::string_view text) {
    size_t first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && text[first] != '#';
  };
  for (size_t at = 0; at < yaml.size(); ++line_no) {
    size_t nl = yaml.find('\n', at);
    size_t end = nl == std::string_view::npos ? yaml.size() : nl + 1;
    std::string_view line = yaml.substr(at, end - at);
    if (StartsWithMarker(line, "---")) {
      close(at, line_no);
      marked = true;
      if (has_content(line.substr(3))) body = line_no;
    } else if (StartsWithMarker(line, "...")) {
      marked = true;
      close(end, line_no + 1);
    } else if (has_content(line) && !body && !(line[0] == '%' && !marked)) {
      body = line_no;  // (a directive before the marker is not the document's content)
    }
    at = end;
  }
  close(yaml.size(), line_no);
  return parts;
}

}  // namespace

std::optional<Field> MapSigmaField(std::string_view name) {
  for (const auto& a : kSigmaFields) {
    if (a.name == name) return a.field;
  }
  return FieldFromName(name);
}

struct RuleSetBuilder::Impl {
  std::vector<MatcherDef> matchers;
  std::map<std::tuple<uint8_t, MatcherKind, unsigned, std::string>, uint32_t> matcher_ids;
  std::vector<ParsedRule> rules;
  std::vector<SkippedRule> skipped;
  bool keep_correlations = false;
  // The file's line (0-based) where the document being parsed starts: yaml-cpp counts from it.
  int first_line = 0;
  std::vector<std::pair<std::string, std::string>> correlations;
  uint32_t AddMatcher(MatcherDef def) {
    auto key = std::make_tuple(def.slot, def.kind, def.flags, def.pattern);
    auto it = matcher_ids.find(key);
    if (it != matcher_ids.end()) {
      matchers[it->second].from_re = matchers[it->second].from_re || def.from_re;
      return it->second;
    }
    auto id = static_cast<uint32_t>(matchers.size());
    matchers.push_back(std::move(def));
    matcher_ids.emplace(std::move(key), id);
    return id;
  }

  Status ParseRule(const YAML::Node& doc, std::string_view origin, ParsedRule* r);
  Status ParseSelection(const YAML::Node& n, const std::string& sel, ParsedRule* r, uint32_t* out);
  Status ParseFieldEntry(const YAML::Node& key_node, const YAML::Node& value,
                         const std::string& sel, ParsedRule* r, uint32_t* out);
  Status ValueLeaf(const YAML::Node& v, uint8_t slot, int position, bool cased, bool is_re,
                   unsigned re_flags, bool cidr, const std::string& where, ParsedRule* r,
                   uint32_t* out);
};

namespace {

uint32_t AddNode(ParsedRule* r, Node n) {
  r->nodes.push_back(std::move(n));
  return static_cast<uint32_t>(r->nodes.size() - 1);
}

uint32_t Combine(ParsedRule* r, Node::Op op, std::vector<uint32_t> kids) {
  if (kids.size() == 1) return kids[0];
  Node n;
  n.op = op;
  n.kids = std::move(kids);
  return AddNode(r, std::move(n));
}

enum Position { kExact = 0, kContains = 1, kStartsWith = 2, kEndsWith = 3 };

// Recursive-descent parser for Sigma conditions: or < and < not < "x of" < parentheses.
class ConditionParser {
 public:
  ConditionParser(std::string_view text, const std::map<std::string, uint32_t>& selections,
                  ParsedRule* rule)
      : selections_(selections), rule_(rule) {
    std::string cur;
    for (char c : text) {
      if (c == '(' || c == ')' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        if (!cur.empty()) tokens_.push_back(std::move(cur));
        cur.clear();
        if (c == '(' || c == ')') tokens_.emplace_back(1, c);
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) tokens_.push_back(std::move(cur));
  }

  Status Parse(uint32_t* out) {
    if (tokens_.empty()) return Status::InvalidArgument("empty condition");
    for (const auto& t : tokens_) {
      if (t == "|") {
        return Status::InvalidArgument(
            "condition uses a '|' aggregation (count/near), which Sigma 2.x replaced by "
            "correlation rules");
      }
    }
    RAMPART_RETURN_IF_ERROR(ParseOr(out));
    if (pos_ != tokens_.size()) {
      return Status::InvalidArgument("unexpected " + Quote(tokens_[pos_]) + " in condition");
    }
    return Status::Ok();
  }

 private:
  bool Peek(std::string_view word) const {
    if (pos_ >= tokens_.size()) return false;
    const std::string& t = tokens_[pos_];
    if (t.size() != word.size()) return false;
    for (size_t i = 0; i < t.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(t[i])) != word[i]) return false;
    }
    return true;
  }

  Status ParseOr(uint32_t* out) {
    std::vector<uint32_t> kids(1);
    RAMPART_RETURN_IF_ERROR(ParseAnd(&kids[0]));
    while (Peek("or")) {
      ++pos_;
      kids.emplace_back();
      RAMPART_RETURN_IF_ERROR(ParseAnd(&kids.back()));
    }
    *out = Combine(rule_, Node::Op::kOr, std::move(kids));
    return Status::Ok();
  }

  Status ParseAnd(uint32_t* out) {
    std::vector<uint32_t> kids(1);
    RAMPART_RETURN_IF_ERROR(ParseNot(&kids[0]));
    while (Peek("and")) {
      ++pos_;
      kids.emplace_back();
      RAMPART_RETURN_IF_ERROR(ParseNot(&kids.back()));
    }
    *out = Combine(rule_, Node::Op::kAnd, std::move(kids));
    return Status::Ok();
  }

  Status ParseNot(uint32_t* out) {
    if (Peek("not")) {
      ++pos_;
      uint32_t kid;
      RAMPART_RETURN_IF_ERROR(ParseNot(&kid));
      Node n;
      n.op = Node::Op::kNot;
      n.kids = {kid};
      *out = AddNode(rule_, std::move(n));
      return Status::Ok();
    }
    return ParsePrimary(out);
  }

  Status ParsePrimary(uint32_t* out) {
    if (pos_ >= tokens_.size()) return Status::InvalidArgument("condition ends too early");
    if (Peek("(")) {
      ++pos_;
      RAMPART_RETURN_IF_ERROR(ParseOr(out));
      if (!Peek(")")) return Status::InvalidArgument("missing ')' in condition");
      ++pos_;
      return Status::Ok();
    }
    if (Peek("1") || Peek("all") || Peek("any")) {
      bool all = Peek("all");
      std::string quant = tokens_[pos_];
      ++pos_;
      if (!Peek("of")) {
        return Status::InvalidArgument("expected 'of' after " + Quote(quant) + " in condition");
      }
      ++pos_;
      if (pos_ >= tokens_.size()) return Status::InvalidArgument("condition ends after 'of'");
      std::string target = tokens_[pos_++];
      std::vector<uint32_t> kids;
      for (const auto& [name, node] : selections_) {
        bool hit = target == "them" ? !name.starts_with("_") : GlobMatch(target, name);
        if (hit) kids.push_back(node);
      }
      if (kids.empty()) {
        return Status::InvalidArgument(Quote(quant + " of " + target) + " matches no selection");
      }
      *out = Combine(rule_, all ? Node::Op::kAnd : Node::Op::kOr, std::move(kids));
      return Status::Ok();
    }
    const std::string& name = tokens_[pos_];
    if (name == ")" || Peek("and") || Peek("or")) {
      return Status::InvalidArgument("unexpected " + Quote(name) + " in condition");
    }
    if (name.find_first_not_of("0123456789") == std::string::npos) {
      return Status::InvalidArgument("only '1 of' and 'all of' are supported, not " +
                                     Quote(name + " of"));
    }
    auto it = selections_.find(name);
    if (it == selections_.end()) {
      return Status::InvalidArgument("condition names unknown selection " + Quote(name));
    }
    ++pos_;
    *out = it->second;
    return Status::Ok();
  }

  std::vector<std::string> tokens_;
  size_t pos_ = 0;
  const std::map<std::string, uint32_t>& selections_;
  ParsedRule* rule_;
};

}  // namespace

namespace {

// Fields whose values are numbers written in decimal by every source.
bool IsNumericSlot(uint8_t slot) {
  switch (static_cast<Field>(slot)) {
    case Field::kHttpResponseStatusCode:
    case Field::kHttpResponseBodyBytes:
    case Field::kEventDuration:
    case Field::kFileSize:
    case Field::kCommandCount:
    case Field::kLogSyslogSeverityCode:
    case Field::kLogSyslogFacilityCode:
      return true;
    default:
      return false;
  }
}

// The integer a plain decimal such as "404.0", "404." or "+404" stands for; nullopt for
// anything else. Read exactly, not through a double ("404.0000000000000001" is not 404); a
// leading zero ("0404", octal in YAML 1.1), hex, octal and exponents stay text.
std::optional<int64_t> IntegralNumber(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18 || (digits > 1 && text[0] == '0')) return std::nullopt;
  std::string_view rest = text.substr(digits);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.find_first_not_of('0', 1) != std::string_view::npos) {
      return std::nullopt;
    }
  }
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + digits, value);
  return negative ? -value : value;
}

}  // namespace

Status RuleSetBuilder::Impl::ValueLeaf(const YAML::Node& v, uint8_t slot, int position, bool cased,
                                       bool is_re, unsigned re_flags, bool cidr,
                                       const std::string& where, ParsedRule* r, uint32_t* out) {
  if (r->nodes.size() >= kMaxRuleNodes) {
    // YAML aliases can multiply a small file into millions of values ("billion laughs").
    return Status::InvalidArgument(where + ": rule has more than " + std::to_string(kMaxRuleNodes) +
                                   " values");
  }
  Node leaf;
  leaf.op = Node::Op::kLeaf;
  MatcherDef def;
  def.slot = slot;
  if (v.IsNull()) {
    if (slot == kKeywordSlot) return Status::InvalidArgument(where + ": null keyword");
    def.kind = MatcherKind::kNull;
    leaf.matcher = AddMatcher(std::move(def));
    *out = AddNode(r, std::move(leaf));
    return Status::Ok();
  }
  if (!v.IsScalar()) return Status::InvalidArgument(where + ": value is not a scalar or a list");
  std::string text = v.Scalar();
  // An unquoted YAML number is a number: `sc-status: 404.0` means the status 404, which the
  // event holds as "404". (Quoted, "404.0" stays text.)
  if (position == kExact && !is_re && !cidr && v.Tag() == "?" && IsNumericSlot(slot)) {
    if (auto integral = IntegralNumber(text)) text = std::to_string(*integral);
  }
  if (cidr) {
    auto net = ParseCidr(text);
    if (!net) return Status::InvalidArgument(where + ": bad CIDR " + Quote(text));
    def.kind = MatcherKind::kCidr;
    def.pattern = text;
    def.net = *net;
  } else if (is_re) {
    def.kind = MatcherKind::kHs;
    def.from_re = true;
    def.pattern = text;
    def.flags = HS_FLAG_SINGLEMATCH | re_flags;
  } else if (std::string lit;
             position == kExact && !cased && slot != kKeywordSlot && PlainLiteral(text, &lit)) {
    def.kind = MatcherKind::kExact;
    def.pattern = std::move(lit);
  } else {
    std::string body = GlobToRegex(text);
    if (position == kExact || position == kStartsWith) body.insert(0, "^");
    if (position == kExact || position == kEndsWith) body.append("\\z");
    // Leading/trailing "match anything" adds nothing when only existence of a match counts.
    if (body.starts_with("^.*")) body.erase(0, 3);
    while (body.starts_with(".*")) body.erase(0, 2);
    if (body.ends_with(".*\\z")) body.resize(body.size() - 4);
    while (body.ends_with(".*") && !body.ends_with("\\.*")) body.resize(body.size() - 2);
    if (body.empty()) {
      // "*" or contains '': any value, even empty, of a present field.
      def.kind = slot == kKeywordSlot ? MatcherKind::kHs : MatcherKind::kExists;
      if (slot == kKeywordSlot) body = "^";
    }
    def.pattern = std::move(body);
    if (def.kind == MatcherKind::kHs) {
      def.flags = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | (cased ? 0u : HS_FLAG_CASELESS);
    }
  }
  leaf.matcher = AddMatcher(std::move(def));
  if (const YAML::Mark mark = v.Mark(); !mark.is_null() && mark.line >= 0) {
    r->matcher_lines.emplace_back(leaf.matcher, first_line + mark.line + 1);
  }
  *out = AddNode(r, std::move(leaf));
  return Status::Ok();
}

Status RuleSetBuilder::Impl::ParseFieldEntry(const YAML::Node& key_node, const YAML::Node& value,
                                             const std::string& sel, ParsedRule* r, uint32_t* out) {
  const std::string key = key_node.as<std::string>();
  std::vector<std::string> parts;
  std::string cur;
  for (char c : key) {
    if (c == '|') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  const std::string& field_name = parts[0];
  std::string where =
      LinePrefix(key_node, first_line) + "selection " + Quote(sel) + ", key " + Quote(key);
  uint8_t slot;
  if (field_name.empty()) {
    slot = static_cast<uint8_t>(kKeywordSlot);
  } else {
    auto f = MapSigmaField(field_name);
    if (!f) {
      return Status::InvalidArgument(where + ": field " + Quote(field_name) +
                                     " has no mapping to a Rampart event field");
    }
    slot = static_cast<uint8_t>(*f);
  }
  int position = slot == kKeywordSlot ? kContains : kExact;
  bool all = false, is_re = false, cidr = false, exists = false, cased = false;
  unsigned re_flags = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& m = parts[i];
    if (m == "contains") {
      position = kContains;
    } else if (m == "startswith") {
      position = kStartsWith;
    } else if (m == "endswith") {
      position = kEndsWith;
    } else if (m == "all") {
      all = true;
    } else if (m == "re") {
      is_re = true;
    } else if (is_re && (m == "i" || m == "ignorecase")) {
      re_flags |= HS_FLAG_CASELESS;
    } else if (is_re && (m == "m" || m == "multiline")) {
      re_flags |= HS_FLAG_MULTILINE;
    } else if (is_re && (m == "s" || m == "dotall")) {
      re_flags |= HS_FLAG_DOTALL;
    } else if (m == "cidr") {
      cidr = true;
    } else if (m == "exists") {
      exists = true;
    } else if (m == "cased") {
      cased = true;
    } else {
      return Status::InvalidArgument(where + ": modifier " + Quote(m) + " is not supported");
    }
  }
  // cs-uri-query stands for the whole target (see kSigmaFields), but a rule that asks whether
  // there is a query, or what it starts with when the value is no path, means the query
  // itself: "cs-uri-query|exists: false", "cs-uri-query: null",
  // "cs-uri-query|startswith: 'cmd='". SigmaHQ also writes whole paths under it, with
  // equality and wildcards ("'/ui/vropspluginui/rest/services/uploadova'"), so those stay on
  // the target.
  const bool uri_query = field_name == "cs-uri-query" && !is_re;
  if (uri_query && exists) slot = static_cast<uint8_t>(Field::kUrlQuery);
  auto value_slot = [&](const YAML::Node& v) {
    if (!uri_query) return slot;
    const bool query_start = position == kStartsWith && v.IsScalar() &&
                             !v.Scalar().starts_with('/') && !v.Scalar().starts_with('*');
    return v.IsNull() || query_start ? static_cast<uint8_t>(Field::kUrlQuery) : slot;
  };
  if ((is_re || cidr || exists) && position != kExact && slot != kKeywordSlot) {
    return Status::InvalidArgument(where + ": re/cidr/exists cannot be combined with " +
                                   "contains/startswith/endswith");
  }
  if ((cidr || exists) && slot == kKeywordSlot) {
    return Status::InvalidArgument(where + ": cidr/exists need a field");
  }
  if (exists) {
    if (!value.IsScalar() || (value.Scalar() != "true" && value.Scalar() != "false")) {
      return Status::InvalidArgument(where + ": exists takes true or false");
    }
    MatcherDef def;
    def.slot = slot;
    def.kind = value.Scalar() == "true" ? MatcherKind::kExists : MatcherKind::kNotExists;
    Node leaf;
    leaf.op = Node::Op::kLeaf;
    leaf.matcher = AddMatcher(std::move(def));
    *out = AddNode(r, std::move(leaf));
    return Status::Ok();
  }
  std::vector<uint32_t> kids;
  auto add = [&](const YAML::Node& v) -> Status {
    kids.emplace_back();
    return ValueLeaf(v, value_slot(v), position, cased, is_re, re_flags, cidr, where, r,
                     &kids.back());
  };
  if (value.IsSequence()) {
    if (value.size() == 0) return Status::InvalidArgument(where + ": empty value list");
    for (const auto& v : value) RAMPART_RETURN_IF_ERROR(add(v));
  } else {
    RAMPART_RETURN_IF_ERROR(add(value));
  }
  *out = Combine(r, all ? Node::Op::kAnd : Node::Op::kOr, std::move(kids));
  return Status::Ok();
}

Status RuleSetBuilder::Impl::ParseSelection(const YAML::Node& n, const std::string& sel,
                                            ParsedRule* r, uint32_t* out) {
  std::vector<uint32_t> kids;
  if (n.IsMap()) {
    if (n.size() == 0) return Status::InvalidArgument("selection " + Quote(sel) + " is empty");
    for (auto it = n.begin(); it != n.end(); ++it) {
      kids.emplace_back();
      RAMPART_RETURN_IF_ERROR(ParseFieldEntry(it->first, it->second, sel, r, &kids.back()));
    }
    *out = Combine(r, Node::Op::kAnd, std::move(kids));
    return Status::Ok();
  }
  if (n.IsSequence()) {
    if (n.size() == 0) return Status::InvalidArgument("selection " + Quote(sel) + " is empty");
    for (const auto& item : n) {
      kids.emplace_back();
      if (item.IsMap()) {
        RAMPART_RETURN_IF_ERROR(ParseSelection(item, sel, r, &kids.back()));
      } else {
        RAMPART_RETURN_IF_ERROR(
            ValueLeaf(item, static_cast<uint8_t>(kKeywordSlot), kContains, false, false, 0, false,
                      LinePrefix(item, first_line) + "keywords " + Quote(sel), r, &kids.back()));
      }
    }
    *out = Combine(r, Node::Op::kOr, std::move(kids));
    return Status::Ok();
  }
  if (n.IsScalar()) {
    return ValueLeaf(n, static_cast<uint8_t>(kKeywordSlot), kContains, false, false, 0, false,
                     LinePrefix(n, first_line) + "keywords " + Quote(sel), r, out);
  }
  return Status::InvalidArgument("selection " + Quote(sel) + " is neither a map nor a list");
}

Result<std::string> SigmaLevel(std::optional<std::string_view> level) {
  if (!level || level->empty()) return std::string("medium");
  std::string lower(*level);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* known : {"informational", "low", "medium", "high", "critical"}) {
    if (lower == known) return lower;
  }
  return Status::InvalidArgument("level " + Quote(std::string(*level)) +
                                 " is not informational, low, medium, high or critical");
}

Status RuleSetBuilder::Impl::ParseRule(const YAML::Node& doc, std::string_view origin,
                                       ParsedRule* r) {
  r->info.file = std::string(origin);
  if (!doc.IsMap()) return Status::InvalidArgument("document is not a YAML map");
  if (doc["title"] && doc["title"].IsScalar()) r->info.title = doc["title"].Scalar();
  if (doc["id"] && doc["id"].IsScalar()) r->info.id = doc["id"].Scalar();
  if (doc["name"] && doc["name"].IsScalar()) r->info.name = doc["name"].Scalar();
  if (doc["correlation"]) {
    return Status::InvalidArgument("correlation rules are not supported by the matcher");
  }
  auto level = SigmaLevel(doc["level"] && doc["level"].IsScalar()
                              ? std::optional<std::string_view>(doc["level"].Scalar())
                              : std::nullopt);
  if (!level.ok()) return level.status();
  r->info.severity = *std::move(level);
  if (const YAML::Node tags = doc["tags"]; tags && tags.IsSequence()) {
    for (const auto& t : tags) {
      if (!t.IsScalar()) continue;
      std::string tag = t.Scalar();
      r->info.tags.push_back(tag);
      if (tag.size() > 8 && tag.starts_with("attack.t") &&
          std::isdigit(static_cast<unsigned char>(tag[8]))) {
        std::string id = tag.substr(7);
        for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        r->info.attack.push_back(id);
      }
    }
  }
  if (r->info.title.empty()) return Status::InvalidArgument("rule has no title");
  if (const YAML::Node ls = doc["logsource"]; ls && ls.IsMap()) {
    std::string category =
        ls["category"] && ls["category"].IsScalar() ? ls["category"].Scalar() : "";
    std::string product = ls["product"] && ls["product"].IsScalar() ? ls["product"].Scalar() : "";
    if (category != "webserver" && category != "proxy" && product != "rampart") {
      return Status::InvalidArgument("logsource " +
                                     Quote("category=" + category + " product=" + product) +
                                     " is not a web server, proxy or Rampart source");
    }
  } else {
    return Status::InvalidArgument("rule has no logsource");
  }
  const YAML::Node det = doc["detection"];
  if (!det || !det.IsMap()) return Status::InvalidArgument("rule has no detection map");
  if (det["timeframe"]) {
    return Status::InvalidArgument(
        "detection.timeframe (an aggregation window) is not supported; use a correlation rule");
  }
  std::map<std::string, uint32_t> selections;
  for (auto it = det.begin(); it != det.end(); ++it) {
    std::string name = it->first.as<std::string>();
    if (name == "condition") continue;
    uint32_t node;
    RAMPART_RETURN_IF_ERROR(ParseSelection(it->second, name, r, &node));
    selections.emplace(name, node);
  }
  const YAML::Node cond = det["condition"];
  if (!cond) return Status::InvalidArgument("detection has no condition");
  std::vector<uint32_t> roots;
  auto parse_one = [&](const std::string& text) -> Status {
    ConditionParser parser(text, selections, r);
    roots.emplace_back();
    Status s = parser.Parse(&roots.back());
    if (!s.ok()) return Status::InvalidArgument("condition " + Quote(text) + ": " + s.message());
    return s;
  };
  if (cond.IsSequence()) {
    for (const auto& c : cond) RAMPART_RETURN_IF_ERROR(parse_one(c.as<std::string>()));
  } else if (cond.IsScalar()) {
    RAMPART_RETURN_IF_ERROR(parse_one(cond.Scalar()));
  } else {
    return Status::InvalidArgument("condition is neither text nor a list");
  }
  if (roots.empty()) return Status::InvalidArgument("empty condition list");
  r->root = Combine(r, Node::Op::kOr, std::move(roots));
  return Status::Ok();
}

RuleSetBuilder::RuleSetBuilder() : impl_(std::make_unique<Impl>()) {}
RuleSetBuilder::~RuleSetBuilder() = default;

const std::vector<SkippedRule>& RuleSetBuilder::skipped() const {
  return impl_->skipped;
}
size_t RuleSetBuilder::pending() const {
  return impl_->rules.size();
}
void RuleSetBuilder::set_keep_correlations(bool keep) {
  impl_->keep_correlations = keep;
}
const std::vector<std::pair<std::string, std::string>>& RuleSetBuilder::correlations() const {
  return impl_->correlations;
}

Status RuleSetBuilder::AddRuleText(std::string_view yaml, std::string_view origin) {
  std::vector<YAML::Node> docs;
  std::vector<int> first_lines;
  for (const YamlPart& part : SplitYamlDocuments(yaml)) {
    std::string reason;
    try {
      first_lines.push_back(static_cast<int>(part.first_line));
      docs.push_back(YAML::Load(std::string(part.text)));
      if (docs.back().IsNull() && part.body_line) {
        reason = "YAML error at line " + std::to_string(*part.body_line + 1) +
                 ": nothing could be read from this document";
      } else if (auto quote = FindUnclosedQuote(docs.back(), part.text)) {
        reason = "YAML error at line " + std::to_string(part.first_line + quote->line + 1) +
                 ": the quote opened at column " + std::to_string(quote->column + 1) +
                 " is never closed";
      }
    } catch (const YAML::Exception& e) {
      reason =
          "YAML error at line " + std::to_string(part.first_line + e.mark.line + 1) + ": " + e.msg;
    }
    if (!reason.empty()) {
      impl_->skipped.push_back({std::string(origin), "", reason});
      return Status::InvalidArgument(std::string(origin) + ": " + reason);
    }
  }
  Status first;
  for (size_t d = 0; d < docs.size(); ++d) {
    const YAML::Node& doc = docs[d];
    if (doc.IsNull()) continue;
    impl_->first_line = first_lines[d];
    if (impl_->keep_correlations && doc.IsMap() && doc["correlation"]) {
      YAML::Emitter emitter;
      emitter << doc;
      impl_->correlations.emplace_back(std::string(origin), emitter.c_str());
      continue;
    }
    ParsedRule rule;
    Status s;
    try {
      s = impl_->ParseRule(doc, origin, &rule);
    } catch (const YAML::Exception& e) {
      s = Status::InvalidArgument("YAML error at line " +
                                  std::to_string(first_lines[d] + e.mark.line + 1) + ": " + e.msg);
    }
    if (!s.ok()) {
      impl_->skipped.push_back({std::string(origin), rule.info.title, s.message()});
      if (first.ok()) first = Status::InvalidArgument(std::string(origin) + ": " + s.message());
      continue;
    }
    impl_->rules.push_back(std::move(rule));
  }
  return first;
}

Status RuleSetBuilder::AddFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    impl_->skipped.push_back({path, "", "cannot open file"});
    return Status::NotFound(path + ": cannot open file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return AddRuleText(ss.str(), path);
}

Status RuleSetBuilder::AddPath(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec) return Status::NotFound(path + ": " + ec.message());
  if (std::filesystem::is_directory(status)) return AddDirectory(path);
  if (!std::filesystem::is_regular_file(status)) {
    return Status::InvalidArgument(path + ": neither a rules directory nor a rule file");
  }
  AddFile(path).IgnoreError();  // recorded in skipped()
  return Status::Ok();
}

bool IsRuleFileName(std::string_view name) {
  // std::filesystem's extension(): ".yml" alone is a name without one.
  auto ends_with = [&](std::string_view suffix) {
    if (name.size() <= suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
      char c = name[name.size() - suffix.size() + i];
      if (std::tolower(static_cast<unsigned char>(c)) != suffix[i]) return false;
    }
    return true;
  };
  return ends_with(".yml") || ends_with(".yaml");
}

Status RuleSetBuilder::AddDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Status::NotFound(dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::Internal(dir + ": " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    if (IsRuleFileName(it->path().filename().string())) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) AddFile(f).IgnoreError();  // recorded in skipped()
  return Status::Ok();
}

struct CompiledRule {
  std::vector<Node> nodes;
  uint32_t root = 0;
};

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
};

// The parts of the request target that access logs carry inside url.original, as slices of it.
constexpr std::array<Field, 3> kTargetPartFields = {Field::kUrlPath, Field::kUrlQuery,
                                                    Field::kUrlExtension};

// What RuleMatcher checks before the per-field scans. Each rule with a trigger has a few
// clauses, sets of matchers at least one of which must match for the rule to be true (an AND
// needs each child's clauses, an OR one member of each child's). Cheap checks that err on
// "maybe" mark the matchers that may match; only when every clause of some rule is marked do
// the per-field scans run.
struct Prefilter {
  bool ready = false;
  // The longest literal of every glob-made matcher in a clause, one database per slot, scanned
  // over each value of the slot (raw and decoded) on its own; the keyword slot's database over
  // the line and the decoded request target. A report counts for a matcher only where the
  // pattern's anchors say, so for patterns that are nothing but that literal the answer is
  // exact. Per slot: pattern id → uses (CSR).
  struct LiteralUse {
    uint32_t matcher;
    uint32_t bytes;         // length of the literal
    bool at_start, at_end;  // anchors, for patterns made of the literal alone
    // A literal every match of an `re` matcher contains: finding it does not mark the
    // matcher but opens the gate to scanning the slot's `re` database, which decides.
    bool gate = false;
    // In target_literals only: 0 for url.original's own uses, 1 + i for kTargetPartFields[i].
    uint8_t part = 0;
  };
  struct SlotLiterals {
    std::unique_ptr<hs_database_t, HsDatabaseDeleter> db;
    std::vector<uint32_t> offsets;
    std::vector<LiteralUse> uses;
  };
  std::array<SlotLiterals, kSlotCount> literals;
  SlotMask literal_slots = 0;  // bit per slot with a literal database
  // The literals of url.original and of its parts, in one database: when the parts lie inside
  // the target (access logs), one scan of the target finds them all, and a use counts only
  // where it lies wholly inside its part. Null when it would not compile (the slots' own
  // databases are scanned then).
  SlotLiterals target_literals;
  // What a fill of the request target and its parts looks for in their raw values (the
  // literals of target_literals, and the one-byte literals and the exact values of those
  // slots): targets with one masked form get the same marks, so a fill can take them from
  // another target of that form (RuleMatcher's shape memo). Not ready when target_literals is
  // null or one of them is all hex digits.
  HexRunMask target_mask;
  bool target_mask_ready = false;
  // `re` matchers, which have no literal to stand for them: scanned as they are, per slot,
  // over that slot's values (skipped when every value is shorter than min_width). Pattern id
  // is the matcher id. (Glob-made matchers whose literal is too short to scan for are here
  // too.) Those that are plain sequences of byte classes are searched by ClassSequence
  // instead, several times faster than Vectorscan's NFA; the database holds the rest (null
  // when there is none).
  std::array<std::unique_ptr<hs_database_t, HsDatabaseDeleter>, kSlotCount> regexes;
  struct SequenceRegex {
    uint32_t matcher;
    ClassSequence sequence;
  };
  std::array<std::vector<SequenceRegex>, kSlotCount> sequence_regexes;
  std::array<unsigned, kSlotCount> regex_min_width{};
  // Patterns made of a one-byte literal alone: found in almost every line and
  // costly for the literal database, so compared with (or searched in) their field instead.
  struct ShortLiteral {
    uint32_t matcher;
    std::string text;  // lower-cased when caseless
    bool caseless, at_start, at_end;
  };
  std::array<std::vector<ShortLiteral>, kSlotCount> short_literals;
  // Matchers that nothing narrower can stand for (they may match any value): marked whenever
  // the event has their slot.
  std::array<std::vector<uint32_t>, kSlotCount> any_value;
  // Clauses: rule of each, clauses of each matcher (CSR), clause count of each rule.
  std::vector<uint32_t> clause_rule;
  std::vector<uint32_t> matcher_clause_offsets, matcher_clauses;
  std::vector<uint32_t> rule_clauses;
  // The `re` databases are scanned last, and only for a rule that could still complete: one
  // whose clauses without an `re` matcher ("plain" clauses) are all marked already. Per clause
  // whether it has an `re` matcher; per rule its plain clause count; per slot the rules with
  // an `re` matcher in that slot's database.
  std::vector<uint8_t> clause_has_regex;
  std::vector<uint32_t> rule_plain_clauses;
  // Method and status matchers ("broad": they hold on most lines, and one of them may sit in
  // dozens of clauses) are marked after every other field and the keywords, and only for the
  // rules that could still complete: a rule with a plain clause free of broad matchers that
  // nothing marked by then cannot (later marks come from `re` scans, which reach only clauses
  // with an `re` matcher). Per matcher whether it is broad; per rule how many such clauses.
  std::vector<uint8_t> broad_matcher;
  std::vector<uint32_t> rule_selective_plain;
  // Per broad matcher, its clauses in rules without such a clause (always marked), CSR; per
  // rule with one, its broad matchers' clauses as (matcher, clause), CSR.
  std::vector<uint32_t> broad_always_offsets, broad_always;
  std::vector<uint32_t> rule_broad_offsets;
  std::vector<std::pair<uint32_t, uint32_t>> rule_broad;
  std::array<std::vector<uint32_t>, kSlotCount> regex_rules;
  // Bit per slot whose `re` database holds a matcher without gate literals: scanned without
  // waiting for a gate.
  SlotMask ungated_regex_slots = 0;
};

struct RuleSet::Impl {
  std::vector<RuleInfo> infos;
  std::vector<CompiledRule> rules;
  std::vector<MatcherDef> matchers;
  std::array<std::unique_ptr<hs_database_t, HsDatabaseDeleter>, kSlotCount> dbs;
  // Matcher id → rules using it (CSR layout).
  std::vector<uint32_t> owner_offsets;
  std::vector<uint32_t> owners;
  // Rules that can match without any Vectorscan matcher matching (negations, C++ matchers).
  std::vector<uint32_t> always;
  std::vector<SkippedRule> skipped;
  // Per slot: lower-cased literal → kExact matchers.
  std::array<std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>>,
             kSlotCount>
      exact;
  // Those literals again, so that most values are ruled out before they are lower-cased and
  // hashed.
  std::array<QuickFilter, kSlotCount> exact_filter;
  Prefilter prefilter;
  size_t hs_count = 0;
  size_t exact_count = 0;
  size_t fallback_count = 0;
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::size() const {
  return impl_->infos.size();
}
const RuleInfo& RuleSet::rule(size_t i) const {
  return impl_->infos[i];
}
const std::vector<SkippedRule>& RuleSet::skipped() const {
  return impl_->skipped;
}
size_t RuleSet::vectorscan_matchers() const {
  return impl_->hs_count;
}
size_t RuleSet::fallback_matchers() const {
  return impl_->fallback_count;
}
size_t RuleSet::exact_matchers() const {
  return impl_->exact_count;
}

namespace {

void CollectLeaves(const std::vector<Node>& nodes, uint32_t n, std::vector<uint32_t>* out) {
  const Node& node = nodes[n];
  if (node.op == Node::Op::kLeaf) {
    out->push_back(node.matcher);
    return;
  }
  for (uint32_t k : node.kids) CollectLeaves(nodes, k, out);
}

// How often a matcher is expected to match on ordinary traffic: an exact method or status
// matches most lines, a long literal almost none.
uint32_t MatcherCost(const MatcherDef& def) {
  switch (static_cast<Field>(def.slot)) {
    case Field::kHttpRequestMethod:
    case Field::kHttpResponseStatusCode:
    case Field::kHttpResponseBodyBytes:
    case Field::kUrlExtension:
      return 100;
    default:
      break;
  }
  return def.pattern.size() < 8 ? 20 : 1;
}

struct Trigger {
  std::vector<uint32_t> matchers;
  uint32_t cost = 0;
};

// A set of Vectorscan matchers at least one of which must match for the condition to be true,
// chosen to be as selective as possible: an AND needs only its most selective child, an OR
// needs all of its children. nullopt when no such set exists (a NOT or a C++ matcher on every
// path), and the rule is then evaluated on every event. Only rules whose trigger set matched
// are evaluated, which keeps "cs-method: GET" from making every rule a candidate.
std::optional<Trigger> TriggerSet(const std::vector<Node>& nodes, uint32_t n,
                                  const std::vector<MatcherDef>& matchers) {
  const Node& node = nodes[n];
  switch (node.op) {
    case Node::Op::kConst:
    case Node::Op::kNot:
      return std::nullopt;
    case Node::Op::kLeaf: {
      const MatcherDef& def = matchers[node.matcher];
      if (!UsesBits(def.kind)) return std::nullopt;
      return Trigger{{node.matcher}, MatcherCost(def)};
    }
    case Node::Op::kAnd: {
      std::optional<Trigger> best;
      for (uint32_t k : node.kids) {
        auto t = TriggerSet(nodes, k, matchers);
        if (t && (!best || t->cost < best->cost)) best = std::move(t);
      }
      return best;
    }
    case Node::Op::kOr: {
      Trigger all;
      for (uint32_t k : node.kids) {
        auto t = TriggerSet(nodes, k, matchers);
        if (!t) return std::nullopt;
        all.matchers.insert(all.matchers.end(), t->matchers.begin(), t->matchers.end());
        all.cost += t->cost;
      }
      return all;
    }
  }
  return std::nullopt;
}

bool HasBoundedRepeat(std::string_view pattern) {
  for (size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] == '{' && std::isdigit(static_cast<unsigned char>(pattern[i + 1]))) return true;
  }
  return false;
}

std::string SlotName(uint8_t slot) {
  return slot == kKeywordSlot ? std::string("keywords") : std::string(FieldName(Field(slot)));
}

// The longest run of literal characters in a pattern made by GlobToRegex, with the anchors
// that ValueLeaf adds: every value the pattern matches contains that run, wherever the value
// sits in a longer text. Empty when the pattern has no literal character.
std::string LongestLiteralRun(std::string_view p, size_t* bytes) {
  if (p.starts_with('^')) p.remove_prefix(1);
  if (p.ends_with("\\z")) p.remove_suffix(2);
  std::string best, cur;
  size_t best_chars = 0, cur_chars = 0;
  auto flush = [&] {
    if (cur_chars > best_chars) {
      best = cur;
      best_chars = cur_chars;
    }
    cur.clear();
    cur_chars = 0;
  };
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '\\' && i + 4 <= p.size() && p[i + 1] == 'x') {
      cur.append(p.substr(i, 4));
      ++cur_chars;
      i += 4;
    } else if (p[i] == '.') {
      flush();
      i += (i + 1 < p.size() && p[i + 1] == '*') ? 2 : 1;
    } else {
      cur.push_back(p[i]);
      ++cur_chars;
      ++i;
    }
  }
  flush();
  *bytes = best_chars;
  return best;
}

// The raw bytes as a pattern of literal characters for the literal database.
std::string LiteralPattern(std::string_view bytes) {
  std::string p;
  for (char c : bytes) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      p.push_back(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(c));
      p += hex;
    }
  }
  return p;
}

// The bytes of a glob-made pattern without wildcards, and its anchors. False for a pattern
// with a wildcard.
// Literals shorter than this stay out of the literal database (see Prefilter::short_literals).
constexpr size_t kMinScannedLiteral = 2;

bool PureLiteral(std::string_view p, std::string* out, bool* at_start, bool* at_end) {
  *at_start = p.starts_with('^');
  if (*at_start) p.remove_prefix(1);
  *at_end = p.ends_with("\\z");
  if (*at_end) p.remove_suffix(2);
  out->clear();
  for (size_t i = 0; i < p.size();) {
    char c;
    if (p[i] == '\\' && i + 4 <= p.size() && p[i + 1] == 'x') {
      c = static_cast<char>(std::stoi(std::string(p.substr(i + 2, 2)), nullptr, 16));
      i += 4;
    } else if (p[i] == '.') {
      return false;
    } else {
      c = p[i++];
    }
    out->push_back(c);
  }
  return !out->empty();
}

hs_database_t* CompileOrNull(const std::vector<const char*>& exprs,
                             const std::vector<unsigned>& flags, const std::vector<unsigned>& ids) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (HsCompileMulti(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                     &db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

using Clauses = std::vector<std::vector<uint32_t>>;
// Enough clauses to rule out most rules on ordinary traffic; any subset is still necessary.
constexpr size_t kMaxClauses = 16;

// Keeps the kMaxClauses clauses least likely to hold on ordinary traffic ("cs-method: POST"
// holds on many lines, so a clause holding it rules out little).
void KeepMostSelective(const std::vector<MatcherDef>& matchers, Clauses* clauses) {
  if (clauses->size() <= kMaxClauses) return;
  std::vector<std::pair<uint64_t, size_t>> cost;
  for (size_t i = 0; i < clauses->size(); ++i) {
    uint64_t sum = 0;
    for (uint32_t m : (*clauses)[i]) sum += MatcherCost(matchers[m]);
    cost.emplace_back(sum, i);
  }
  std::sort(cost.begin(), cost.end());
  Clauses kept;
  for (size_t i = 0; i < kMaxClauses; ++i) kept.push_back(std::move((*clauses)[cost[i].second]));
  *clauses = std::move(kept);
}

// A method ("cs-method: GET") makes every such line mark many clauses. A short word searched
// in the whole line ("POST" and "200" among a rule's keywords) is in most lines too, and
// costs the keyword scan of every line a quarter of its time.
bool HoldsOnMostLines(const MatcherDef& def) {
  if (def.slot == static_cast<uint8_t>(Field::kHttpRequestMethod)) return true;
  std::string text;
  bool at_start = false, at_end = false;
  return def.slot == kKeywordSlot && def.kind == MatcherKind::kHs && !def.from_re &&
         PureLiteral(def.pattern, &text, &at_start, &at_end) && text.size() <= 4 &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Necessary conditions of a condition tree: clauses of matchers (Vectorscan or exact) at least
// one of which matches whenever the tree is true. nullopt when the tree can be true with no
// such matcher matching (a NOT, a C++ matcher).
std::optional<Clauses> Requirements(const std::vector<Node>& nodes, uint32_t n,
                                    const std::vector<MatcherDef>& matchers) {
  const Node& node = nodes[n];
  switch (node.op) {
    case Node::Op::kConst:
    case Node::Op::kNot:
      return std::nullopt;
    case Node::Op::kLeaf:
      if (!UsesBits(matchers[node.matcher].kind)) return std::nullopt;
      return Clauses{{node.matcher}};
    case Node::Op::kAnd: {
      std::optional<Clauses> all;
      for (uint32_t k : node.kids) {
        auto c = Requirements(nodes, k, matchers);
        if (!c) continue;
        if (!all) all.emplace();
        for (auto& clause : *c) all->push_back(std::move(clause));
      }
      if (all) {
        // A broad clause holds on most lines and rules out little: drop it when the AND has
        // others.
        Clauses selective;
        for (auto& clause : *all) {
          bool broad = std::any_of(clause.begin(), clause.end(),
                                   [&](uint32_t m) { return HoldsOnMostLines(matchers[m]); });
          if (!broad) selective.push_back(std::move(clause));
        }
        if (!selective.empty()) *all = std::move(selective);
        KeepMostSelective(matchers, &*all);
      }
      return all;
    }
    case Node::Op::kOr: {
      std::optional<Clauses> acc;
      for (uint32_t k : node.kids) {
        auto c = Requirements(nodes, k, matchers);
        if (!c) return std::nullopt;
        if (!acc) {
          acc = std::move(c);
          continue;
        }
        // (a1 and a2) or (b1 and b2) needs (a1 or b1), (a1 or b2), (a2 or b1), (a2 or b2).
        Clauses next;
        for (const auto& x : *acc) {
          for (const auto& y : *c) {
            next.push_back(x);
            next.back().insert(next.back().end(), y.begin(), y.end());
          }
        }
        KeepMostSelective(matchers, &next);
        acc = std::move(next);
      }
      return acc;
    }
  }
  return std::nullopt;
}

// (literal, caseless flag) → its uses.
using LiteralMap = std::map<std::pair<std::string, unsigned>, std::vector<Prefilter::LiteralUse>>;

// One database of the literals, pattern id = index in the map. Every occurrence is reported:
// an anchored use may need one other than the first. False when it does not compile.
bool CompileLiterals(const LiteralMap& literals, Prefilter::SlotLiterals* out) {
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  out->offsets.assign(1, 0);
  for (const auto& [key, uses] : literals) {
    ids.push_back(static_cast<unsigned>(exprs.size()));
    exprs.push_back(key.first.c_str());
    flags.push_back(key.second);
    out->uses.insert(out->uses.end(), uses.begin(), uses.end());
    out->offsets.push_back(static_cast<uint32_t>(out->uses.size()));
  }
  out->db.reset(CompileOrNull(exprs, flags, ids));
  return out->db != nullptr;
}

// The bytes a pattern of LiteralPattern's or LongestLiteralRun's form stands for (letters,
// digits and '_' as they are, every other byte as \xNN: see AppendLiteral). False for
// anything else.
bool LiteralBytes(std::string_view pattern, std::string* out) {
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '\\') {
      if (i + 4 > pattern.size() || pattern[i + 1] != 'x' || nibble(pattern[i + 2]) < 0 ||
          nibble(pattern[i + 3]) < 0) {
        return false;
      }
      out->push_back(static_cast<char>(nibble(pattern[i + 2]) * 16 + nibble(pattern[i + 3])));
      i += 4;
    } else if (std::isalnum(static_cast<unsigned char>(pattern[i])) || pattern[i] == '_') {
      out->push_back(pattern[i++]);
    } else {
      return false;
    }
  }
  return true;
}

// Builds the prefilter. Leaves it not ready (every event then takes the per-field scans) when
// a database does not compile; the per-slot databases compiled the same or harder patterns, so
// that does not happen in practice.
void BuildPrefilter(const std::vector<MatcherDef>& matchers, const std::vector<CompiledRule>& rules,
                    const std::vector<uint32_t>& always, Prefilter* pf) {
  std::vector<bool> is_always(rules.size(), false);
  for (uint32_t r : always) is_always[r] = true;
  std::vector<std::vector<uint32_t>> clauses_of(matchers.size());
  pf->rule_clauses.assign(rules.size(), 0);
  for (uint32_t r = 0; r < rules.size(); ++r) {
    if (is_always[r]) continue;
    auto req = Requirements(rules[r].nodes, rules[r].root, matchers);
    if (!req || req->empty()) return;  // cannot happen for a rule with a trigger
    for (auto& clause : *req) {
      std::sort(clause.begin(), clause.end());
      clause.erase(std::unique(clause.begin(), clause.end()), clause.end());
      auto id = static_cast<uint32_t>(pf->clause_rule.size());
      pf->clause_rule.push_back(r);
      for (uint32_t m : clause) clauses_of[m].push_back(id);
    }
    pf->rule_clauses[r] = static_cast<uint32_t>(req->size());
  }
  pf->matcher_clause_offsets.assign(matchers.size() + 1, 0);
  for (size_t m = 0; m < matchers.size(); ++m) {
    pf->matcher_clause_offsets[m + 1] =
        pf->matcher_clause_offsets[m] + static_cast<uint32_t>(clauses_of[m].size());
    pf->matcher_clauses.insert(pf->matcher_clauses.end(), clauses_of[m].begin(),
                               clauses_of[m].end());
  }

  pf->clause_has_regex.assign(pf->clause_rule.size(), 0);
  // Per slot: (literal, caseless flag) → uses.
  std::array<LiteralMap, kSlotCount> literals;
  std::array<std::vector<uint32_t>, kSlotCount> regexes;
  std::set<uint32_t> ungated;
  for (uint32_t m = 0; m < matchers.size(); ++m) {
    if (clauses_of[m].empty()) continue;
    const MatcherDef& def = matchers[m];
    if (def.kind == MatcherKind::kExact) continue;  // looked up exactly, as in the full match
    size_t bytes = 0;
    std::string lit = def.from_re ? std::string() : LongestLiteralRun(def.pattern, &bytes);
    std::vector<std::string> required;
    bool inline_caseless = false;
    if (def.from_re && RegexRequiredLiterals(def.pattern, &required, &inline_caseless)) {
      unsigned caseless = (def.flags & HS_FLAG_CASELESS) || inline_caseless ? HS_FLAG_CASELESS : 0;
      for (const std::string& bytes : required) {
        Prefilter::LiteralUse use{m, static_cast<uint32_t>(bytes.size()), false, false,
                                  /*gate=*/true};
        literals[def.slot][{LiteralPattern(bytes), caseless}].push_back(use);
      }
      regexes[def.slot].push_back(m);
    } else if (def.from_re) {
      regexes[def.slot].push_back(m);
      ungated.insert(m);
    } else if (!lit.empty()) {
      Prefilter::LiteralUse use{m, static_cast<uint32_t>(bytes), false, false};
      std::string text;
      bool at_start = false, at_end = false;
      bool pure = PureLiteral(def.pattern, &text, &at_start, &at_end);
      bool caseless = def.flags & HS_FLAG_CASELESS;
      if (bytes < kMinScannedLiteral) {
        if (!pure) {
          regexes[def.slot].push_back(m);  // scanned as it is, on its field
          ungated.insert(m);
          continue;
        }
        if (caseless) {
          for (char& c : text) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        pf->short_literals[def.slot].push_back({m, std::move(text), caseless, at_start, at_end});
        continue;
      }
      if (pure) {
        use.at_start = at_start;
        use.at_end = at_end;
      }
      literals[def.slot][{std::move(lit), def.flags & HS_FLAG_CASELESS}].push_back(use);
    } else {
      pf->any_value[def.slot].push_back(m);
    }
  }
  for (size_t slot = 0; slot < kSlotCount; ++slot) {
    if (literals[slot].empty()) continue;
    if (!CompileLiterals(literals[slot], &pf->literals[slot])) return;
    pf->literal_slots |= SlotBit(slot);
  }
  {
    LiteralMap target;
    auto add = [&](Field f, uint8_t part) {
      for (const auto& [key, uses] : literals[static_cast<size_t>(f)]) {
        std::vector<Prefilter::LiteralUse>& to = target[key];
        for (Prefilter::LiteralUse use : uses) {
          use.part = part;
          to.push_back(use);
        }
      }
    };
    add(Field::kUrlOriginal, 0);
    for (size_t i = 0; i < kTargetPartFields.size(); ++i) {
      add(kTargetPartFields[i], static_cast<uint8_t>(i + 1));
    }
    if (!target.empty()) CompileLiterals(target, &pf->target_literals);
    if (pf->target_literals.db) {
      bool ok = true;
      std::string bytes;
      for (const auto& [key, uses] : target) {
        if (!LiteralBytes(key.first, &bytes)) {
          ok = false;
          break;
        }
        pf->target_mask.AddLiteral(bytes);
      }
      auto target_slot = [](size_t slot) {
        return slot == static_cast<size_t>(Field::kUrlOriginal) ||
               std::find(kTargetPartFields.begin(), kTargetPartFields.end(),
                         static_cast<Field>(slot)) != kTargetPartFields.end();
      };
      for (size_t slot = 0; slot < kFieldCount; ++slot) {
        if (!target_slot(slot)) continue;
        for (const Prefilter::ShortLiteral& lit : pf->short_literals[slot]) {
          pf->target_mask.AddLiteral(lit.text);
        }
      }
      // An exact value is an occurrence of the whole part. (The empty one only asks for a
      // length, which masking keeps.)
      for (const MatcherDef& def : matchers) {
        if (def.kind == MatcherKind::kExact && target_slot(def.slot) && !def.pattern.empty()) {
          pf->target_mask.AddLiteral(def.pattern);
        }
      }
      pf->target_mask_ready = ok && pf->target_mask.usable();
    }
  }
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  for (size_t slot = 0; slot < kSlotCount; ++slot) {
    if (regexes[slot].empty()) continue;
    exprs.clear();
    flags.clear();
    std::vector<unsigned> ids, hs_ids;  // every `re` matcher; those in the database
    unsigned min_width = ~0u;
    for (uint32_t m : regexes[slot]) {
      const MatcherDef& def = matchers[m];
      hs_expr_info_t* info = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_expression_info(def.pattern.c_str(), def.flags, &info, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return;
      }
      unsigned width = info->min_width;
      std::free(info);
      if (width == 0) {
        pf->any_value[slot].push_back(m);
        continue;
      }
      if (ungated.contains(m)) pf->ungated_regex_slots |= SlotBit(slot);
      min_width = std::min(min_width, width);
      ids.push_back(m);
      constexpr unsigned kSequenceFlags =
          HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE;
      if ((def.flags & ~kSequenceFlags) == 0) {
        if (auto seq = ClassSequence::Parse(def.pattern, def.flags & HS_FLAG_CASELESS,
                                            def.flags & HS_FLAG_DOTALL)) {
          pf->sequence_regexes[slot].push_back({m, std::move(*seq)});
          continue;
        }
      }
      exprs.push_back(def.pattern.c_str());
      flags.push_back(def.flags);
      hs_ids.push_back(m);
    }
    if (ids.empty()) continue;
    if (!exprs.empty()) {
      pf->regexes[slot].reset(CompileOrNull(exprs, flags, hs_ids));
      if (!pf->regexes[slot]) return;
    }
    pf->regex_min_width[slot] = min_width;
    for (unsigned m : ids) {
      for (uint32_t c : clauses_of[m]) {
        pf->clause_has_regex[c] = 1;
        pf->regex_rules[slot].push_back(pf->clause_rule[c]);
      }
    }
    std::sort(pf->regex_rules[slot].begin(), pf->regex_rules[slot].end());
    pf->regex_rules[slot].erase(
        std::unique(pf->regex_rules[slot].begin(), pf->regex_rules[slot].end()),
        pf->regex_rules[slot].end());
  }
  pf->rule_plain_clauses = pf->rule_clauses;
  for (size_t c = 0; c < pf->clause_rule.size(); ++c) {
    if (pf->clause_has_regex[c]) --pf->rule_plain_clauses[pf->clause_rule[c]];
  }
  pf->broad_matcher.assign(matchers.size(), 0);
  for (size_t m = 0; m < matchers.size(); ++m) {
    auto f = static_cast<Field>(matchers[m].slot);
    pf->broad_matcher[m] =
        f == Field::kHttpRequestMethod || f == Field::kHttpResponseStatusCode ? 1 : 0;
  }
  std::vector<uint8_t> clause_broad(pf->clause_rule.size(), 0);
  for (size_t m = 0; m < matchers.size(); ++m) {
    if (!pf->broad_matcher[m]) continue;
    for (uint32_t i = pf->matcher_clause_offsets[m]; i < pf->matcher_clause_offsets[m + 1]; ++i) {
      clause_broad[pf->matcher_clauses[i]] = 1;
    }
  }
  pf->rule_selective_plain.assign(rules.size(), 0);
  for (size_t c = 0; c < pf->clause_rule.size(); ++c) {
    if (!pf->clause_has_regex[c] && !clause_broad[c]) {
      ++pf->rule_selective_plain[pf->clause_rule[c]];
    }
  }
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> broad_of_rule(rules.size());
  pf->broad_always_offsets.assign(1, 0);
  for (uint32_t m = 0; m < matchers.size(); ++m) {
    for (uint32_t i = pf->matcher_clause_offsets[m];
         pf->broad_matcher[m] && i < pf->matcher_clause_offsets[m + 1]; ++i) {
      uint32_t c = pf->matcher_clauses[i];
      uint32_t r = pf->clause_rule[c];
      if (pf->rule_selective_plain[r] == 0) {
        pf->broad_always.push_back(c);
      } else {
        broad_of_rule[r].emplace_back(m, c);
      }
    }
    pf->broad_always_offsets.push_back(static_cast<uint32_t>(pf->broad_always.size()));
  }
  pf->rule_broad_offsets.assign(1, 0);
  for (const auto& pairs : broad_of_rule) {
    pf->rule_broad.insert(pf->rule_broad.end(), pairs.begin(), pairs.end());
    pf->rule_broad_offsets.push_back(static_cast<uint32_t>(pf->rule_broad.size()));
  }
  pf->ready = true;
}

}  // namespace

Result<std::unique_ptr<RuleSet>> RuleSetBuilder::Build() {
  Impl& b = *impl_;
  std::vector<std::vector<uint32_t>> leaves(b.rules.size());
  for (size_t i = 0; i < b.rules.size(); ++i) {
    CollectLeaves(b.rules[i].nodes, b.rules[i].root, &leaves[i]);
  }
  auto skip_users = [&](uint32_t matcher, const std::string& reason) {
    for (size_t i = 0; i < b.rules.size(); ++i) {
      ParsedRule& rule = b.rules[i];
      if (rule.skipped) continue;
      if (std::find(leaves[i].begin(), leaves[i].end(), matcher) != leaves[i].end()) {
        rule.skipped = true;
        rule.reason = reason;
        for (const auto& [m, line] : rule.matcher_lines) {
          if (m != matcher) continue;
          rule.reason = "line " + std::to_string(line) + ": " + reason;
          break;
        }
      }
    }
  };
  auto live_matchers = [&]() {
    std::vector<bool> live(b.matchers.size(), false);
    for (size_t i = 0; i < b.rules.size(); ++i) {
      if (b.rules[i].skipped) continue;
      for (uint32_t m : leaves[i]) live[m] = true;
    }
    return live;
  };

  // Vet each pattern alone first, so that one refused pattern skips only its rules.
  std::vector<bool> live = live_matchers();
  for (uint32_t m = 0; m < b.matchers.size(); ++m) {
    MatcherDef& def = b.matchers[m];
    if (!live[m] || def.kind != MatcherKind::kHs) continue;
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_expression_info(def.pattern.c_str(), def.flags, &info, &err) == HS_SUCCESS) {
      if (info->min_width == 0) def.flags |= HS_FLAG_ALLOWEMPTY;
      std::free(info);
      continue;
    }
    std::string hs_msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    std::string reason = "pattern " + Quote(def.pattern) + " on " + SlotName(def.slot) +
                         " refused by Vectorscan (" + hs_msg + ")";
    if (def.from_re && HasBoundedRepeat(def.pattern)) {
      // std::regex unrolls {n,m} into n..m NFA states: "a{99999999}" would exhaust memory.
      reason += "; bounded repeats {n,m} are not allowed in the std::regex fallback";
    } else if (def.from_re) {
      try {
        auto flags = std::regex::ECMAScript | std::regex::optimize;
        if (def.flags & HS_FLAG_CASELESS) flags |= std::regex::icase;
        if (def.flags & HS_FLAG_MULTILINE) flags |= std::regex::multiline;
        def.regex = std::make_shared<const std::regex>(def.pattern, flags);
        def.kind = MatcherKind::kRegex;
        continue;
      } catch (const std::regex_error& e) {
        reason += " and by std::regex (" + std::string(e.what()) + ")";
      }
    }
    skip_users(m, reason);
  }

  // An id or a name belongs to the first rule that loads with it: alerts are keyed by the
  // rule's id and correlations name rules by id or name (both in one namespace,
  // LinkCorrelations), so a second rule with either would merge its alerts with the first's or
  // make a correlation ambiguous. Checked after the patterns are vetted, so that a rule skipped
  // for its pattern holds nothing.
  std::map<std::string, size_t, std::less<>> owner;
  for (size_t i = 0; i < b.rules.size(); ++i) {
    ParsedRule& rule = b.rules[i];
    if (rule.skipped) continue;
    for (const std::string* ref : {&rule.info.id, &rule.info.name}) {
      if (ref->empty() || rule.skipped) continue;
      auto it = owner.find(*ref);
      if (it == owner.end() || it->second == i) continue;
      const RuleInfo& first = b.rules[it->second].info;
      rule.skipped = true;
      rule.reason = Quote(*ref) + " is already the " + (first.id == *ref ? "id" : "name") + " of " +
                    Quote(first.title) + (first.file.empty() ? "" : " in " + first.file);
    }
    if (rule.skipped) continue;
    for (const std::string* ref : {&rule.info.id, &rule.info.name}) {
      if (!ref->empty()) owner.emplace(*ref, i);
    }
  }

  auto set = std::unique_ptr<RuleSet>(new RuleSet());
  RuleSet::Impl& s = *set->impl_;
  for (;;) {
    live = live_matchers();
    bool retry = false;
    for (size_t slot = 0; slot < kSlotCount && !retry; ++slot) {
      std::vector<const char*> exprs;
      std::vector<unsigned> flags, ids;
      for (uint32_t m = 0; m < b.matchers.size(); ++m) {
        const MatcherDef& def = b.matchers[m];
        if (!live[m] || def.kind != MatcherKind::kHs || def.slot != slot) continue;
        exprs.push_back(def.pattern.c_str());
        flags.push_back(def.flags);
        ids.push_back(m);
      }
      s.dbs[slot].reset();
      if (exprs.empty()) continue;
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      if (HsCompileMulti(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), &db, &err) != HS_SUCCESS) {
        std::string msg = err && err->message ? err->message : "unknown error";
        int bad = err ? err->expression : -1;
        hs_free_compile_error(err);
        if (bad < 0 || static_cast<size_t>(bad) >= ids.size()) {
          return Status::Internal("Vectorscan could not compile the " + SlotName(slot) +
                                  " database: " + msg);
        }
        skip_users(ids[bad], "pattern " + Quote(exprs[bad]) + " on " + SlotName(slot) +
                                 " refused by Vectorscan (" + msg + ")");
        retry = true;
        break;
      }
      s.dbs[slot].reset(db);
    }
    if (!retry) break;
  }

  s.skipped = b.skipped;
  std::vector<std::vector<uint32_t>> owners(b.matchers.size());
  for (size_t i = 0; i < b.rules.size(); ++i) {
    ParsedRule& r = b.rules[i];
    if (r.skipped) {
      s.skipped.push_back({r.info.file, r.info.title, r.reason});
      continue;
    }
    auto idx = static_cast<uint32_t>(s.rules.size());
    auto trigger = TriggerSet(r.nodes, r.root, b.matchers);
    if (!trigger) {
      s.always.push_back(idx);
    } else {
      std::vector<uint32_t> uniq = trigger->matchers;
      std::sort(uniq.begin(), uniq.end());
      uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
      for (uint32_t m : uniq) owners[m].push_back(idx);
    }
    s.infos.push_back(std::move(r.info));
    s.rules.push_back({std::move(r.nodes), r.root});
  }
  s.owner_offsets.assign(b.matchers.size() + 1, 0);
  for (size_t m = 0; m < owners.size(); ++m) {
    s.owner_offsets[m + 1] = s.owner_offsets[m] + static_cast<uint32_t>(owners[m].size());
    s.owners.insert(s.owners.end(), owners[m].begin(), owners[m].end());
  }
  live = live_matchers();
  for (size_t m = 0; m < b.matchers.size(); ++m) {
    if (!live[m]) continue;
    if (b.matchers[m].kind == MatcherKind::kExact) {
      s.exact[b.matchers[m].slot][b.matchers[m].pattern].push_back(static_cast<uint32_t>(m));
      QuickFilter& filter = s.exact_filter[b.matchers[m].slot];
      if (filter.empty()) filter = QuickFilter(QuickFilter::kCaseFolded, 14);
      filter.Add(b.matchers[m].pattern);
      ++s.exact_count;
    } else if (b.matchers[m].kind == MatcherKind::kHs) {
      ++s.hs_count;
    } else {
      ++s.fallback_count;
    }
  }
  s.matchers = std::move(b.matchers);
  BuildPrefilter(s.matchers, s.rules, s.always, &s.prefilter);
  b.matchers.clear();
  b.matcher_ids.clear();
  b.rules.clear();
  b.skipped.clear();
  return set;
}

// A value's form beyond its raw and decoded ones, empty when it has none: url.path as the
// server resolves it (Event::ResolvedPath). It is a function of the raw value, as the decoded
// form is, so memo entries keyed by the raw value hold its marks too.
std::string_view ResolvedForm(const Event& e, size_t slot) {
  return slot == static_cast<size_t>(Field::kUrlPath) && e.HasDistinctResolvedPath()
             ? e.ResolvedPath()
             : std::string_view();
}

struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

struct RuleMatcher::Impl {
  const RuleSet::Impl& rs;
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> scratch;
  std::vector<uint64_t> bits;
  std::vector<uint32_t> touched;
  std::vector<uint32_t> stamp;  // per rule: epoch when it became a candidate
  std::vector<uint32_t> candidates;
  std::vector<int8_t> special;  // per matcher: 0 unknown, 1 false, 2 true
  std::vector<uint32_t> special_touched;
  std::string lower;
  uint32_t epoch = 0;
  const Event* ev = nullptr;
  const bool prefiltered;
  // Set while only the rules without a trigger are evaluated, before any per-field scan: a leaf
  // that needs a matcher bit then sets needs_scans instead of reading the (unset) bit.
  bool bits_unknown = false;
  bool needs_scans = false;
  bool prefilter_scratch = false;
  // Per slot, what the prefilter's checks found in the values seen lately: the slot's marks
  // depend on nothing but its value, and logs repeat their values (user agents, request
  // targets, referrers, virtual hosts), so most events find theirs here instead of scanning.
  // Two ways per set of hash bits (see Probe for which value gives way).
  // In access logs url.path, url.query and url.extension are parts of url.original; where an
  // event's are, their marks are remembered with the target's, keyed by where they sit in it
  // (equal targets and equal places mean equal values).
  struct TargetParts {
    std::array<uint32_t, 3> offset{}, size{};
    uint8_t present = 0, decoded = 0;  // bit per kTargetPartFields entry
    // As the words a memo block keeps them in.
    static constexpr size_t kWords = 7;
    void Pack(uint32_t* out) const {
      std::memcpy(out, offset.data(), 12);
      std::memcpy(out + 3, size.data(), 12);
      out[6] = present | uint32_t{decoded} << 8;
    }
  };
  // A memo entry is looked up on nearly every event, so what a lookup reads is kept small and
  // together: a set's two ways share one cache line, and everything a hit needs besides (the
  // gates, the target parts, the key's bytes, the marks) is one block of words the way points
  // to. Memo tables outgrow the core's caches on varied logs, so each line a hit touches costs.
  struct MemoWay {
    static constexpr uint8_t kFilled = 1, kHasDecoded = 2, kWithParts = 4, kHot = 8;
    uint64_t hash = 0;
    const uint32_t* block = nullptr;
    uint32_t clauses = 0, broad = 0;  // counts in the block
    uint16_t key_size = 0;
    uint8_t flags = 0;
  };
  struct alignas(64) MemoSet {
    std::array<MemoWay, 2> ways;
  };
  // What a way's block holds, from its first word: the gates (two words); with kWithParts the
  // target parts (TargetParts::kWords); the key's bytes in whole words; the clauses (the marks
  // as the clauses they mark, so that a hit marks clauses without going through its matchers);
  // the broad matchers (Prefilter::broad_matcher), held back.
  static constexpr size_t kBlockHeaderWords = 2;
  static_assert(sizeof(SlotMask) == kBlockHeaderWords * sizeof(uint32_t));
  static_assert(sizeof(MemoSet) == 64, "a set's two ways share one cache line");
  // What owns a way's block, and the `re` findings of its value (read only when an event goes
  // on past the memo).
  struct MemoEntry {
    std::vector<uint32_t> block;
    // What the slots' `re` databases found, filled when an event first needs them (they are
    // scanned only when a rule could complete): bit per slot scanned.
    SlotMask regex_done = 0;
    std::vector<uint32_t> regex_marks;
  };
  struct MemoTable {
    std::vector<MemoSet> sets;
    std::vector<MemoEntry> entries;  // two per set
  };
  // An entry's marks as a lookup or a fill gives them; entry is null for a value looked at for
  // one event only (its `re` findings are not kept), and the marks then point into the fill's
  // scratch, valid until the next fill.
  struct MemoMarks {
    const uint32_t* clauses = nullptr;
    const uint32_t* broad = nullptr;
    uint32_t clause_count = 0, broad_count = 0;
    SlotMask gates = 0;
    MemoEntry* entry = nullptr;
  };
  // Method, status and virtual host take few values each and are remembered together, under
  // one lookup (kContextMemo): a key of (field, decoded flag, length, bytes) for each present.
  static constexpr std::array<Field, 3> kContextFields = {
      Field::kHttpRequestMethod, Field::kHttpResponseStatusCode, Field::kDestinationDomain};
  static constexpr size_t kContextMemo = kSlotCount;
  // Request targets by their masked form (Prefilter::target_mask), looked up when a target is
  // not remembered itself: signed download links, each seen once, share the marks of their
  // app's form instead of each taking a literal scan. Its entries' `re` findings are never
  // used: those depend on the value itself.
  static constexpr size_t kShapeMemo = kSlotCount + 1;
  std::array<MemoTable, kSlotCount + 2> memo;
  std::array<char, kMaxMemoValue> shape_buffer{};
  SlotMask context_slots = 0;
  // A slot whose values rarely repeat (ids, times) gains nothing from the memo but pays its
  // hashing and copying: after kMemoProbe lookups with fewer than 1 in 8 hits, the slot
  // bypasses the memo for the next kMemoBypass values, then tries again. (A value is found
  // from its third sighting on, see seen_once: one seen k times close together hits k - 2.)
  struct MemoStats {
    uint32_t lookups = 0, hits = 0, bypass = 0;
  };
  std::array<MemoStats, kSlotCount + 2> memo_stats{};
  // A fill's marks: collected, then turned into clauses and broad matchers.
  std::vector<uint32_t> fill_marks, fill_clauses, fill_broad;
  std::vector<uint32_t> clause_fill_stamp;  // per clause: fill_epoch when last added
  // Values first seen lately are looked at for one event only and not remembered, so that
  // values that come once (signed download links) do not push remembered ones out of the
  // caches: a bit per hash (its bits 32 to 49) set on a value's first miss, all cleared once an
  // eighth of them are set.
  std::vector<uint64_t> seen_once = std::vector<uint64_t>(kSeenOnceWords, 0);
  size_t seen_once_set = 0;
  // This event's memo entry per slot (bit set in event_memo_slots; none for one-event values).
  std::array<MemoEntry*, kSlotCount> event_memo{};
  SlotMask event_memo_slots = 0;
  // While a memo entry is computed, Mark and the literal callback collect into it instead of
  // marking clauses.
  std::vector<uint32_t>* collecting = nullptr;
  SlotMask collected_gates = 0;
  std::vector<uint32_t> collected_stamp;  // per matcher: fill_epoch when last collected
  uint32_t fill_epoch = 0;
  // Broad matchers this event's memo entries marked, held back (Prefilter::broad_matcher), with
  // a flag per matcher while they are marked; the rules this event marked a clause of.
  std::vector<uint32_t> deferred;
  std::vector<uint8_t> deferred_flag;
  std::vector<uint32_t> touched_rules;
  // PrepareLines' findings: each keyword literal found in the buffer, by end offset.
  struct LineHit {
    uint64_t to;
    uint32_t id;
  };
  std::vector<LineHit> prepared_hits;
  std::string_view prepared;   // empty when nothing is prepared
  size_t prepared_cursor = 0;  // first finding of the last line looked up
  // The slot whose literal database is scanning, and the length of the block, for the end
  // anchor.
  size_t literal_slot = 0;
  uint64_t block_size = 0;
  const TargetParts* target_parts = nullptr;  // while target_literals is scanned
  uint64_t events = 0;
  uint64_t full_scans = 0;
  uint64_t shape_hits = 0;
  // Prefilter state: per clause and per rule, the epoch when last marked.
  uint32_t pf_epoch = 0;
  bool possible = false;
  std::vector<uint32_t> clause_stamp, rule_stamp, rule_marked, rule_plain_marked;
  // Bit per slot: which slots have any_value matchers, short literals, exact literals, `re`
  // prefilter databases; and the field slots whose checks go through the memo.
  SlotMask any_value_slots = 0, short_slots = 0, exact_slots = 0, regex_slots = 0;
  SlotMask memo_slots = 0, unremembered_slots = 0;
  // Slots whose `re` database a gate literal opened for this event.
  SlotMask regex_gates = 0;

  Impl(const RuleSet::Impl& r, MatchMode mode)
      : rs(r), prefiltered(mode == MatchMode::kPrefiltered) {
    hs_scratch_t* s = nullptr;
    bool ok = true;
    for (const auto& db : rs.dbs) {
      // Allocation only fails on memory exhaustion; scanning then reports no matches.
      if (db && hs_alloc_scratch(db.get(), &s) != HS_SUCCESS) {
        ok = false;
        break;
      }
    }
    if (ok && prefiltered && rs.prefilter.ready) {
      prefilter_scratch = true;
      const Prefilter& pf = rs.prefilter;
      for (const auto& lits : pf.literals) {
        if (prefilter_scratch && lits.db && hs_alloc_scratch(lits.db.get(), &s) != HS_SUCCESS) {
          prefilter_scratch = false;
        }
      }
      for (const auto& db : pf.regexes) {
        if (prefilter_scratch && db && hs_alloc_scratch(db.get(), &s) != HS_SUCCESS) {
          prefilter_scratch = false;
        }
      }
      if (prefilter_scratch && pf.target_literals.db &&
          hs_alloc_scratch(pf.target_literals.db.get(), &s) != HS_SUCCESS) {
        prefilter_scratch = false;
      }
    }
    scratch.reset(s);
    for (size_t slot = 0; slot < kSlotCount; ++slot) {
      const Prefilter& pf = rs.prefilter;
      SlotMask bit = SlotBit(slot);
      if (!pf.any_value[slot].empty()) any_value_slots |= bit;
      if (!pf.short_literals[slot].empty()) short_slots |= bit;
      if (slot < kFieldCount && !rs.exact[slot].empty()) exact_slots |= bit;
      if (pf.regexes[slot] || !pf.sequence_regexes[slot].empty()) regex_slots |= bit;
    }
    SlotMask fields = SlotBit(kFieldCount) - 1;
    memo_slots = (short_slots | exact_slots | rs.prefilter.literal_slots) & fields;
    // The whole line (a rule on the event.original field) is a value of its own on every
    // event: checked through the same path, never remembered.
    unremembered_slots = SlotBit(static_cast<size_t>(Field::kEventOriginal));
    for (Field f : kContextFields) context_slots |= SlotBit(static_cast<size_t>(f));
    context_slots &= memo_slots;
    if (std::popcount(context_slots) < 2) context_slots = 0;
    clause_stamp.assign(rs.prefilter.clause_rule.size(), 0);
    clause_fill_stamp.assign(rs.prefilter.clause_rule.size(), 0);
    rule_stamp.assign(rs.rules.size(), 0);
    rule_marked.assign(rs.rules.size(), 0);
    rule_plain_marked.assign(rs.rules.size(), 0);
    bits.assign(rs.matchers.size() / 64 + 1, 0);
    stamp.assign(rs.rules.size(), 0);
    special.assign(rs.matchers.size(), 0);
    deferred_flag.assign(rs.matchers.size(), 0);
    collected_stamp.assign(rs.matchers.size(), 0);
  }

  // Starts collecting marks into *into, each matcher once.
  void Collect(std::vector<uint32_t>* into) {
    if (++fill_epoch == 0) {
      std::fill(collected_stamp.begin(), collected_stamp.end(), 0);
      std::fill(clause_fill_stamp.begin(), clause_fill_stamp.end(), 0);
      fill_epoch = 1;
    }
    collecting = into;
  }

  static int OnMatch(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    uint64_t bit = uint64_t{1} << (id % 64);
    uint64_t& word = self->bits[id / 64];
    if (word & bit) return 0;
    word |= bit;
    self->touched.push_back(id);
    for (uint32_t i = self->rs.owner_offsets[id]; i < self->rs.owner_offsets[id + 1]; ++i) {
      uint32_t rule = self->rs.owners[i];
      if (self->stamp[rule] != self->epoch) {
        self->stamp[rule] = self->epoch;
        self->candidates.push_back(rule);
      }
    }
    return 0;
  }

  // The value lower-cased into buf when the filter says some literal may equal it, else false.
  static bool LowerIfMaybe(const QuickFilter& filter, std::string_view v, std::string* buf) {
    if (!filter.MayContain(v)) return false;
    buf->resize(v.size());
    char* out = buf->data();
    for (size_t i = 0; i < v.size(); ++i) {
      char c = v[i];
      out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return true;
  }

  void Lookup(size_t slot, std::string_view v) {
    if (!LowerIfMaybe(rs.exact_filter[slot], v, &lower)) return;
    auto it = rs.exact[slot].find(std::string_view(lower));
    if (it == rs.exact[slot].end()) return;
    for (uint32_t m : it->second) OnMatch(m, 0, 0, 0, this);
  }

  void Scan(size_t slot, std::string_view v) {
    HsScan(rs.dbs[slot].get(), v.data(), static_cast<unsigned>(v.size()), 0, scratch.get(),
           &Impl::OnMatch, this);
  }

  // Marks matcher m as possibly matching; sets `possible` when that completes every clause
  // of a rule.
  void Mark(uint32_t m) {
    if (collecting != nullptr) {
      // Once per matcher per fill: a hostile value may report the same literal all along.
      if (collected_stamp[m] != fill_epoch) {
        collected_stamp[m] = fill_epoch;
        collecting->push_back(m);
      }
      return;
    }
    const Prefilter& pf = rs.prefilter;
    for (uint32_t i = pf.matcher_clause_offsets[m]; i < pf.matcher_clause_offsets[m + 1]; ++i) {
      MarkClause(pf.matcher_clauses[i]);
    }
  }

  void MarkClause(uint32_t c) {
    const Prefilter& pf = rs.prefilter;
    if (clause_stamp[c] == pf_epoch) return;
    clause_stamp[c] = pf_epoch;
    uint32_t r = pf.clause_rule[c];
    if (rule_stamp[r] != pf_epoch) {
      rule_stamp[r] = pf_epoch;
      rule_marked[r] = 0;
      rule_plain_marked[r] = 0;
      touched_rules.push_back(r);
    }
    if (!pf.clause_has_regex[c]) ++rule_plain_marked[r];
    if (++rule_marked[r] == pf.rule_clauses[r]) possible = true;
  }

  // An entry's marks: its clauses now, its broad matchers held back.
  void MarkOrDefer(const MemoMarks& found) {
    for (uint32_t i = 0; i < found.clause_count; ++i) MarkClause(found.clauses[i]);
    deferred.insert(deferred.end(), found.broad, found.broad + found.broad_count);
  }

  // The broad matchers held back, once every other mark but the `re` ones is in (see
  // Prefilter::broad_matcher): their clauses in rules without a selective plain clause, and in
  // the rules something marked already; the others can no longer complete.
  void MarkDeferred() {
    const Prefilter& pf = rs.prefilter;
    if (deferred.empty()) return;
    for (uint32_t m : deferred) {
      deferred_flag[m] = 1;
      for (uint32_t i = pf.broad_always_offsets[m]; i < pf.broad_always_offsets[m + 1]; ++i) {
        MarkClause(pf.broad_always[i]);
      }
    }
    // (Rules the loop above touches have no entries here, so the list may grow under it.)
    for (size_t t = 0; t < touched_rules.size(); ++t) {
      uint32_t r = touched_rules[t];
      for (uint32_t i = pf.rule_broad_offsets[r]; i < pf.rule_broad_offsets[r + 1]; ++i) {
        if (deferred_flag[pf.rule_broad[i].first]) MarkClause(pf.rule_broad[i].second);
      }
    }
    for (uint32_t m : deferred) deferred_flag[m] = 0;
  }

  static int OnMatcher(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    self->Mark(id);
    return self->collecting == nullptr && self->possible ? 1 : 0;
  }

  // A literal of the slot's database (ctx: the slot) ends at `to` in the block scanned.
  static int OnLiteral(unsigned id, unsigned long long, unsigned long long to, unsigned,
                       void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    const Prefilter::SlotLiterals& lits = self->rs.prefilter.literals[self->literal_slot];
    for (uint32_t i = lits.offsets[id]; i < lits.offsets[id + 1]; ++i) {
      const Prefilter::LiteralUse& u = lits.uses[i];
      // (A prepared finding may start before the line it is looked at for.)
      if (to < u.bytes || (u.at_start && to != u.bytes) || (u.at_end && to != self->block_size)) {
        continue;
      }
      if (!u.gate) {
        self->Mark(u.matcher);
      } else if (self->collecting != nullptr) {
        self->collected_gates |= SlotBit(self->literal_slot);
      } else {
        self->regex_gates |= SlotBit(self->literal_slot);
      }
    }
    // A memo entry must hold every mark; the event's own scan may stop once a rule can match.
    return self->collecting == nullptr && self->possible ? 1 : 0;
  }

  // A literal of target_literals ends at `to` in the request target; each use counts where it
  // lies wholly inside its part (target_parts) and as its anchors say there.
  static int OnTargetLiteral(unsigned id, unsigned long long, unsigned long long to, unsigned,
                             void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    const Prefilter::SlotLiterals& lits = self->rs.prefilter.target_literals;
    const TargetParts& parts = *self->target_parts;
    for (uint32_t i = lits.offsets[id]; i < lits.offsets[id + 1]; ++i) {
      const Prefilter::LiteralUse& u = lits.uses[i];
      uint64_t begin = 0, end = self->block_size;
      auto slot = static_cast<unsigned>(Field::kUrlOriginal);
      if (u.part != 0) {
        unsigned k = u.part - 1u;
        if (!(parts.present >> k & 1u)) continue;
        begin = parts.offset[k];
        end = begin + parts.size[k];
        slot = static_cast<unsigned>(kTargetPartFields[k]);
      }
      if (to > end || to < begin + u.bytes || (u.at_start && to != begin + u.bytes) ||
          (u.at_end && to != end)) {
        continue;
      }
      if (!u.gate) {
        self->Mark(u.matcher);
      } else {
        self->collected_gates |= SlotBit(slot);
      }
    }
    return 0;  // only fills scan this database, and a memo entry must hold every mark
  }

  static int OnPrepared(unsigned id, unsigned long long, unsigned long long to, unsigned,
                        void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    self->prepared_hits.push_back({to, id});
    return self->prepared_hits.size() >= kMaxPreparedHits ? 1 : 0;
  }

  void PrepareLines(std::string_view lines) {
    prepared = {};
    prepared_hits.clear();
    prepared_cursor = 0;
    const hs_database_t* db = rs.prefilter.literals[kKeywordSlot].db.get();
    if (!prefilter_scratch || !scratch || db == nullptr || lines.empty() ||
        lines.size() > std::numeric_limits<unsigned>::max()) {
      return;
    }
    hs_error_t rc = HsScan(db, lines.data(), static_cast<unsigned>(lines.size()), 0, scratch.get(),
                           &Impl::OnPrepared, this);
    // Too many findings (a hostile buffer) or an error: every line is searched on its own.
    if (rc != HS_SUCCESS) {
      prepared_hits.clear();
      prepared_hits.shrink_to_fit();
      return;
    }
    if (!std::is_sorted(prepared_hits.begin(), prepared_hits.end(),
                        [](const LineHit& a, const LineHit& b) { return a.to < b.to; })) {
      std::stable_sort(prepared_hits.begin(), prepared_hits.end(),
                       [](const LineHit& a, const LineHit& b) { return a.to < b.to; });
    }
    prepared = lines;
  }

  // The keyword literals PrepareLines found inside the line, as if the line had been scanned
  // on its own: a finding counts only when it lies wholly inside. False when the line is not
  // in the prepared buffer.
  bool PreparedLiterals(std::string_view line) {
    auto at = reinterpret_cast<uintptr_t>(line.data());
    auto base = reinterpret_cast<uintptr_t>(prepared.data());
    if (prepared.empty() || line.empty() || at < base ||
        at + line.size() > base + prepared.size()) {
      return false;
    }
    uint64_t begin = at - base;
    uint64_t end = begin + line.size();
    // Lines usually come in buffer order: walk on from the last line's first finding, and
    // search only when this line lies before it.
    size_t first = prepared_cursor;
    if (first > 0 && prepared_hits[first - 1].to > begin) {
      first = static_cast<size_t>(
          std::upper_bound(prepared_hits.begin(), prepared_hits.end(), begin,
                           [](uint64_t at, const LineHit& h) { return at < h.to; }) -
          prepared_hits.begin());
    }
    while (first < prepared_hits.size() && prepared_hits[first].to <= begin) ++first;
    prepared_cursor = first;
    auto it = prepared_hits.begin() + static_cast<ptrdiff_t>(first);
    literal_slot = kKeywordSlot;
    block_size = line.size();
    for (; it != prepared_hits.end() && it->to <= end && !possible; ++it) {
      OnLiteral(it->id, 0, it->to - begin, 0, this);
    }
    return true;
  }

  // Scans one block with the slot's literal database. False on a scan error.
  bool ScanLiteralBlock(size_t slot, std::string_view v) {
    if (v.empty()) return true;
    literal_slot = slot;
    block_size = v.size();
    hs_error_t rc =
        HsScan(rs.prefilter.literals[slot].db.get(), v.data(), static_cast<unsigned>(v.size()), 0,
               scratch.get(), &Impl::OnLiteral, this);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
  }

  // Runs the slot's `re` matchers over v, marking those that match. A scan error marks the
  // slot's matchers all, so that an error can never hide a match.
  void ScanMarking(size_t slot, std::string_view v) {
    if (!ScanSlotRegexes(slot, v)) MarkSlot(slot);
  }

  // The slot's `re` matchers over v, marking (or collecting) those that match. False on a
  // Vectorscan error.
  bool ScanSlotRegexes(size_t slot, std::string_view v) {
    const Prefilter& pf = rs.prefilter;
    for (const Prefilter::SequenceRegex& r : pf.sequence_regexes[slot]) {
      if (!r.sequence.Search(v)) continue;
      Mark(r.matcher);
      if (collecting == nullptr && possible) return true;
    }
    const hs_database_t* db = pf.regexes[slot].get();
    return db == nullptr || ScanMatchers(db, v);
  }

  bool ScanMatchers(const hs_database_t* db, std::string_view v) {
    hs_error_t rc = HsScan(db, v.data(), static_cast<unsigned>(v.size()), 0, scratch.get(),
                           &Impl::OnMatcher, this);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
  }

  // The slot's `re` database over its raw and decoded value, into the event's memo entry when
  // it has one (and marked from there), else marked directly.
  void ScanRegexes(size_t slot, const Event& e) {
    const Prefilter& pf = rs.prefilter;
    auto f = static_cast<Field>(slot);
    unsigned w = pf.regex_min_width[slot];
    std::string_view raw = e.Get(f);
    bool decoded = e.HasDistinctDecoded(f) && e.Decoded(f).size() >= w;
    std::string_view resolved = ResolvedForm(e, slot);
    if (resolved.size() < w) resolved = {};
    MemoEntry* entry = event_memo_slots >> slot & 1u ? event_memo[slot] : nullptr;
    if (entry == nullptr) {
      if (raw.size() >= w) ScanMarking(slot, raw);
      if (decoded) ScanMarking(slot, e.Decoded(f));
      if (!resolved.empty()) ScanMarking(slot, resolved);
      return;
    }
    if (!(entry->regex_done >> slot & 1u)) {
      Collect(&entry->regex_marks);
      bool ok = (raw.size() < w || ScanSlotRegexes(slot, raw)) &&
                (!decoded || ScanSlotRegexes(slot, e.Decoded(f))) &&
                (resolved.empty() || ScanSlotRegexes(slot, resolved));
      collecting = nullptr;
      if (!ok) {
        entry->regex_marks.clear();
        entry->regex_done = 0;
        MarkSlot(slot);  // a scan error hides nothing
        return;
      }
      entry->regex_done |= SlotBit(slot);
    }
    // Marks found for the entry's other slots hold for this event too.
    for (uint32_t m : entry->regex_marks) Mark(m);
  }

  void MarkSlot(size_t slot) {
    for (uint32_t m = 0; m < rs.matchers.size(); ++m) {
      if (rs.matchers[m].slot == slot) Mark(m);
    }
  }

  static bool SameByte(char c, char lowered, bool caseless) {
    if (caseless && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return c == lowered;
  }

  void MarkShort(const std::vector<Prefilter::ShortLiteral>& uses, std::string_view v) {
    for (const auto& u : uses) {
      char b = u.text[0];
      bool hit;
      if (v.empty()) {
        hit = false;
      } else if (u.at_start || u.at_end) {
        hit = (!u.at_start || SameByte(v.front(), b, u.caseless)) &&
              (!u.at_end || SameByte(v.back(), b, u.caseless)) &&
              (!u.at_start || !u.at_end || v.size() == 1);
      } else {
        hit = v.find(b) != std::string_view::npos;
        if (!hit && u.caseless && b >= 'a' && b <= 'z') {
          hit = v.find(static_cast<char>(b - 'a' + 'A')) != std::string_view::npos;
        }
      }
      if (hit) Mark(u.matcher);
    }
  }

  // False only when no rule with a trigger can match the event. Each check is a superset of
  // the per-field matching it stands for.
  bool MayTrigger(const Event& e) {
    const Prefilter& pf = rs.prefilter;
    if (++pf_epoch == 0) {
      std::fill(clause_stamp.begin(), clause_stamp.end(), 0);
      std::fill(rule_stamp.begin(), rule_stamp.end(), 0);
      pf_epoch = 1;
    }
    possible = false;
    regex_gates = 0;
    touched_rules.clear();
    collecting = nullptr;  // (left set if a fill threw)
    SlotMask present = e.present_mask();
    // The keywords search the line and the decoded request target, either of which may be
    // missing.
    bool has_line = e.Has(Field::kEventOriginal);
    bool decoded_target = e.HasDistinctDecoded(Field::kUrlOriginal);
    if (has_line || decoded_target) present |= SlotBit(kKeywordSlot);
    // Each loop visits only the slots that are present and have something to check.
    for (SlotMask left = present & any_value_slots; left != 0 && !possible; left &= left - 1) {
      for (uint32_t m : pf.any_value[std::countr_zero(left)]) Mark(m);
    }
    deferred.clear();
    SlotMask memo_pending = present & memo_slots;
    event_memo_slots = 0;
    constexpr auto kTarget = static_cast<size_t>(Field::kUrlOriginal);
    if (memo_pending >> kTarget & 1u) {
      TargetParts parts;
      bool with_parts = FindTargetParts(e, &parts);
      MemoMarks found;
      memo_pending &= ~SlotBit(kTarget);
      if (!Remembered(kTarget, e, with_parts ? &parts : nullptr, &found)) {
        MarkSlot(kTarget);  // a scan error hides nothing; the parts are looked at one by one
      } else {
        MarkOrDefer(found);
        regex_gates |= found.gates;
        Remember(kTarget, found.entry);
        for (size_t i = 0; with_parts && i < kTargetPartFields.size(); ++i) {
          if (!(parts.present >> i & 1u)) continue;
          auto part = static_cast<unsigned>(kTargetPartFields[i]);
          memo_pending &= ~SlotBit(part);
          Remember(part, found.entry);
        }
      }
    }
    if (SlotMask context = memo_pending & context_slots; std::popcount(context) >= 2) {
      // On a scan error (or values too long) the fields are looked up one by one below.
      if (MemoMarks found; RememberedContext(e, context, &found)) {
        MarkOrDefer(found);
        regex_gates |= found.gates;
        for (SlotMask left = context; left != 0; left &= left - 1) {
          Remember(static_cast<size_t>(std::countr_zero(left)), found.entry);
        }
        memo_pending &= ~context;
      }
    }
    for (SlotMask left = memo_pending; left != 0 && !possible; left &= left - 1) {
      auto slot = static_cast<size_t>(std::countr_zero(left));
      MemoMarks found;
      if (!Remembered(slot, e, nullptr, &found)) {
        MarkSlot(slot);  // a scan error hides nothing
        continue;
      }
      MarkOrDefer(found);
      regex_gates |= found.gates;
      Remember(slot, found.entry);
    }
    if (possible) return true;
    if (present >> kKeywordSlot & 1u) {
      std::string_view line = e.Get(Field::kEventOriginal);
      if (short_slots >> kKeywordSlot & 1u) {
        MarkShort(pf.short_literals[kKeywordSlot], line);
        if (decoded_target) {
          MarkShort(pf.short_literals[kKeywordSlot], e.Decoded(Field::kUrlOriginal));
        }
      }
      if (!possible && pf.literals[kKeywordSlot].db) {
        if (has_line && !PreparedLiterals(line) && !ScanLiteralBlock(kKeywordSlot, line)) {
          return true;  // a scan error hides nothing
        }
        if (!possible && decoded_target &&
            !ScanLiteralBlock(kKeywordSlot, e.Decoded(Field::kUrlOriginal))) {
          return true;
        }
      }
    }
    MarkDeferred();
    if (possible) return true;
    // Last, the `re` databases, each only when some rule using it could still complete.
    for (SlotMask left = present & regex_slots; left != 0 && !possible; left &= left - 1) {
      auto slot = static_cast<size_t>(std::countr_zero(left));
      SlotMask bit = SlotBit(slot);
      if (!((pf.ungated_regex_slots | regex_gates) & bit) || !RegexCanComplete(slot)) continue;
      if (slot == kKeywordSlot) {
        if (has_line) ScanMarking(kKeywordSlot, e.Get(Field::kEventOriginal));
        if (decoded_target) ScanMarking(kKeywordSlot, e.Decoded(Field::kUrlOriginal));
        continue;
      }
      ScanRegexes(slot, e);
    }
    return possible;
  }

  // Four independent lanes over 32-byte blocks: a request target hashes in a few multiply
  // latencies instead of one per eight bytes.
  static uint64_t HashValue(std::string_view v, bool has_decoded) {
    auto mix = [](uint64_t h, uint64_t x) {
      h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
      return h ^ (h >> 31);
    };
    auto load = [](const char* at) {
      uint64_t x;
      std::memcpy(&x, at, 8);
      return x;
    };
    const char* p = v.data();
    size_t n = v.size();
    uint64_t a = (n * 0x9e3779b97f4a7c15ULL) ^ (has_decoded ? 0xd6e8feb86659fd93ULL : 0);
    uint64_t b = 0x94d049bb133111ebULL, c = 0x2545f4914f6cdd1dULL, d = 0xa0761d6478bd642fULL;
    for (; n >= 32; p += 32, n -= 32) {
      a = mix(a, load(p));
      b = mix(b, load(p + 8));
      c = mix(c, load(p + 16));
      d = mix(d, load(p + 24));
    }
    uint64_t h = a ^ std::rotl(b, 17) ^ std::rotl(c, 31) ^ std::rotl(d, 47);
    for (; n >= 8; p += 8, n -= 8) h = mix(h, load(p));
    // The last bytes in one load that ends with the value (a copy through memory byte by
    // byte stalled the load that read it back). Bytes already hashed are shifted out
    // (little-endian: the value's last byte is the load's highest).
    uint64_t x = 0;
    if (n != 0 && v.size() >= 8) {
      x = load(p + n - 8) >> (8 * (8 - n));
    } else {
      for (size_t i = 0; i < n; ++i) x |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
    }
    h = (h ^ x ^ (uint64_t{n} << 59)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
  }

  // Where the target's parts that the memo checks sit inside url.original. False when one of
  // them is not inside it (a source that sets them apart).
  bool FindTargetParts(const Event& e, TargetParts* parts) const {
    std::string_view target = e.Get(Field::kUrlOriginal);
    auto begin = reinterpret_cast<uintptr_t>(target.data());
    for (size_t i = 0; i < kTargetPartFields.size(); ++i) {
      Field f = kTargetPartFields[i];
      if (!(memo_slots >> static_cast<unsigned>(f) & 1u) || !e.Has(f)) continue;
      std::string_view v = e.Get(f);
      auto at = reinterpret_cast<uintptr_t>(v.data());
      if (v.data() == nullptr || at < begin || at + v.size() > begin + target.size()) return false;
      parts->present |= static_cast<uint8_t>(1u << i);
      if (e.HasDistinctDecoded(f)) parts->decoded |= static_cast<uint8_t>(1u << i);
      parts->offset[i] = static_cast<uint32_t>(at - begin);
      parts->size[i] = static_cast<uint32_t>(v.size());
    }
    return true;
  }

  void Remember(size_t slot, MemoEntry* entry) {
    if (entry == nullptr) return;
    event_memo[slot] = entry;
    event_memo_slots |= SlotBit(slot);
  }

  // The slot's marks for this event's value: remembered, or computed (and remembered unless
  // the slot bypasses the memo, the value is long or was not seen lately). The key is the raw
  // value and whether the event carries its decoded form: that form is always the raw one
  // percent-decoded (Event::DecodeField), so it adds nothing to the key. False on a scan error.
  bool Remembered(size_t slot, const Event& e, const TargetParts* parts, MemoMarks* out) {
    auto f = static_cast<Field>(slot);
    std::string_view raw = e.Get(f);
    bool has_decoded = e.HasDistinctDecoded(f);
    Probed p =
        unremembered_slots >> slot & 1u ? Probed{} : Probe(slot, raw, has_decoded, parts, out);
    return p.hit || FillSlot(p, slot, e, parts, out);
  }

  // The marks of the context fields in `context` (bits of kContextFields), remembered together.
  // False on a scan error, or when the values are too long to be a key (the fields are then
  // looked up one by one).
  bool RememberedContext(const Event& e, SlotMask context, MemoMarks* out) {
    char key[kMaxMemoValue];
    size_t n = 0;
    for (SlotMask left = context; left != 0; left &= left - 1) {
      auto slot = static_cast<unsigned>(std::countr_zero(left));
      auto f = static_cast<Field>(slot);
      std::string_view v = e.Get(f);
      if (n + 6 + v.size() > sizeof(key)) return false;
      auto size = static_cast<uint32_t>(v.size());
      key[n] = static_cast<char>(slot);
      key[n + 1] = static_cast<char>(e.HasDistinctDecoded(f));
      std::memcpy(key + n + 2, &size, 4);
      if (!v.empty()) std::memcpy(key + n + 6, v.data(), v.size());
      n += 6 + v.size();
    }
    std::string_view k(key, n);
    Probed p = Probe(kContextMemo, k, false, nullptr, out);
    return p.hit || FillContext(p, k, e, context, out);
  }

  static constexpr size_t KeyWords(size_t bytes) { return (bytes + 3) / 4; }

  // Where table `index` keeps `key` (the marks in *out when it is there), or the way a fill
  // should take: none for a bypassed table, a long key, a value not seen lately, or a set
  // whose two values both keep coming.
  struct Probed {
    MemoWay* way = nullptr;
    MemoEntry* entry = nullptr;
    uint64_t hash = 0;
    bool hit = false;
  };
  Probed Probe(size_t index, std::string_view key, bool has_decoded, const TargetParts* parts,
               MemoMarks* out) {
    MemoStats& stats = memo_stats[index];
    if (stats.bypass > 0) {
      --stats.bypass;
      return {};
    }
    if (key.size() > kMaxMemoValue) return {};
    uint64_t h = HashValue(key, has_decoded);
    MemoTable& table = memo[index];
    if (table.sets.empty()) {
      bool wide = index == static_cast<size_t>(Field::kUrlOriginal) ||
                  index == static_cast<size_t>(Field::kUserAgentOriginal);
      size_t entries = wide ? kWideMemoEntries : kMemoEntries;
      table.sets.resize(entries / 2);
      table.entries.resize(entries);
    }
    if (++stats.lookups == kMemoProbe) {
      if (stats.hits < kMemoProbe / 8) stats.bypass = kMemoBypass;
      stats.lookups = stats.hits = 0;
    }
    // The set from the hash's high bits: its low bits depend on few bytes of a short value
    // (the seen-once filter takes bits 32 to 49).
    size_t set = h >> (64 - std::countr_zero(table.sets.size()));
    std::array<MemoWay, 2>& ways = table.sets[set].ways;
    auto flags = static_cast<uint8_t>(MemoWay::kFilled | (has_decoded ? MemoWay::kHasDecoded : 0) |
                                      (parts != nullptr ? MemoWay::kWithParts : 0));
    for (size_t w = 0; w < 2; ++w) {
      MemoWay& way = ways[w];
      if (way.hash != h || (way.flags & ~MemoWay::kHot) != flags || way.key_size != key.size()) {
        continue;
      }
      const uint32_t* at = way.block + kBlockHeaderWords;
      if (parts != nullptr) {
        uint32_t packed[TargetParts::kWords];
        parts->Pack(packed);
        if (std::memcmp(at, packed, sizeof(packed)) != 0) continue;
        at += TargetParts::kWords;
      }
      if (!key.empty() && std::memcmp(at, key.data(), key.size()) != 0) continue;
      at += KeyWords(key.size());
      ++stats.hits;
      if (!(way.flags & MemoWay::kHot)) way.flags |= MemoWay::kHot;
      MemoEntry* entry = &table.entries[set * 2 + w];
      SlotMask gates;
      std::memcpy(&gates, way.block, sizeof(gates));
      *out = {at, at + way.clauses, way.clauses, way.broad, gates, entry};
      return {&way, entry, h, true};
    }
    // A value not seen lately is looked at for this event only (see seen_once).
    uint64_t bit = (h >> 32) % (kSeenOnceWords * 64);
    uint64_t& word = seen_once[bit / 64];
    if (!(word >> (bit % 64) & 1u)) {
      word |= uint64_t{1} << (bit % 64);
      if (++seen_once_set == kSeenOnceWords * 64 / 8) {
        std::fill(seen_once.begin(), seen_once.end(), 0);
        seen_once_set = 0;
      }
      return {nullptr, nullptr, h, false};
    }
    // Two ways per set. A value that comes rarely must not push out one that keeps coming: an
    // entry found since it was filled is "hot", and a new value takes the place of an entry
    // that is not; when both are, it is looked at for this event only and both are made cold,
    // so that a value that stopped coming leaves in time.
    for (size_t w = 0; w < 2; ++w) {
      if (!(ways[w].flags & MemoWay::kFilled)) return {&ways[w], &table.entries[set * 2 + w], h};
    }
    for (size_t w = 0; w < 2; ++w) {
      if (!(ways[w].flags & MemoWay::kHot)) return {&ways[w], &table.entries[set * 2 + w], h};
    }
    ways[0].flags &= static_cast<uint8_t>(~MemoWay::kHot);
    ways[1].flags &= static_cast<uint8_t>(~MemoWay::kHot);
    return {nullptr, nullptr, h, false};
  }

  // A miss: the slot's (and the target parts') marks computed, and remembered where the probe
  // says. Out of line, so that the lookups stay small.
  [[gnu::noinline]] bool FillSlot(const Probed& p, size_t slot, const Event& e,
                                  const TargetParts* parts, MemoMarks* out) {
    auto f = static_cast<Field>(slot);
    std::string_view raw = e.Get(f);
    bool has_decoded = e.HasDistinctDecoded(f);
    // With the parts inside the target, one scan of it stands for the raw values' literal
    // scans of all of them (their decoded values, when distinct, are scanned on their own).
    bool together = parts != nullptr && rs.prefilter.target_literals.db != nullptr;
    Probed shape;
    std::string_view shape_key;
    if (together && MaskedTarget(e, raw, has_decoded, *parts)) {
      shape_key = std::string_view(shape_buffer.data(), raw.size());
      MemoMarks found;
      shape = Probe(kShapeMemo, shape_key, false, parts, &found);
      if (shape.hit) {
        ++shape_hits;
        TakeShape(p, raw, parts, found, out);
        return true;
      }
    }
    BeginFill();
    bool ok = CollectSlot(slot, raw, has_decoded ? e.Decoded(f) : std::string_view(), has_decoded,
                          ResolvedForm(e, slot), /*raw_literals=*/!together);
    for (size_t i = 0; ok && parts != nullptr && i < kTargetPartFields.size(); ++i) {
      if (!(parts->present >> i & 1u)) continue;
      Field part = kTargetPartFields[i];
      ok = CollectSlot(static_cast<size_t>(part), e.Get(part), e.Decoded(part),
                       e.HasDistinctDecoded(part), ResolvedForm(e, static_cast<size_t>(part)),
                       /*raw_literals=*/!together);
    }
    if (ok && together && !raw.empty()) {
      block_size = raw.size();
      target_parts = parts;
      hs_error_t rc =
          HsScan(rs.prefilter.target_literals.db.get(), raw.data(),
                 static_cast<unsigned>(raw.size()), 0, scratch.get(), &Impl::OnTargetLiteral, this);
      target_parts = nullptr;
      ok = rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
    }
    return EndFill(p, raw, has_decoded, parts, ok, out, shape, shape_key);
  }

  // Whether the shape memo may stand for this target's fill, with its masked form written to
  // shape_buffer: only raw values count (a decoded or resolved form is not masked; the parts'
  // decoded flags are those FindTargetParts read), and a form that masks nothing is the value
  // itself.
  bool MaskedTarget(const Event& e, std::string_view raw, bool has_decoded,
                    const TargetParts& parts) {
    if (!rs.prefilter.target_mask_ready || raw.size() > shape_buffer.size() || has_decoded ||
        parts.decoded != 0 || e.HasDistinctResolvedPath()) {
      return false;
    }
    // A log whose targets share no form bypasses the lookup as a slot does (see MemoStats),
    // and then skips the masking too.
    if (MemoStats& stats = memo_stats[kShapeMemo]; stats.bypass > 0) {
      --stats.bypass;
      return false;
    }
    return rs.prefilter.target_mask.Mask(raw, shape_buffer.data());
  }

  // A target whose masked form was remembered: its marks, kept in the target's own way when
  // the probe gave one (so that the value's next sighting finds them there, and its `re`
  // findings are kept with it), else for this event only.
  void TakeShape(const Probed& p, std::string_view raw, const TargetParts* parts,
                 const MemoMarks& found, MemoMarks* out) {
    if (p.way == nullptr) {
      *out = found;
      out->entry = nullptr;
      return;
    }
    Store(p, raw, false, parts, found.gates, found.clauses, found.clause_count, found.broad,
          found.broad_count, out);
  }

  [[gnu::noinline]] bool FillContext(const Probed& p, std::string_view key, const Event& e,
                                     SlotMask context, MemoMarks* out) {
    BeginFill();
    bool ok = true;
    for (SlotMask left = context; ok && left != 0; left &= left - 1) {
      auto slot = static_cast<size_t>(std::countr_zero(left));
      auto f = static_cast<Field>(slot);
      ok =
          CollectSlot(slot, e.Get(f), e.Decoded(f), e.HasDistinctDecoded(f), ResolvedForm(e, slot));
    }
    return EndFill(p, key, false, nullptr, ok, out, Probed{}, std::string_view());
  }

  void BeginFill() {
    fill_marks.clear();
    Collect(&fill_marks);
    collected_gates = 0;
  }

  // The fill's marks into *out, and into the probed way when there is one. A way changes only
  // here, once its block is whole, so a fill cut short (an error, a throw) leaves it as it was.
  bool EndFill(const Probed& p, std::string_view key, bool has_decoded, const TargetParts* parts,
               bool ok, MemoMarks* out, const Probed& shape, std::string_view shape_key) {
    collecting = nullptr;
    if (!ok) return false;
    const Prefilter& pf = rs.prefilter;
    fill_clauses.clear();
    fill_broad.clear();
    // (Collect kept each matcher once; the stamps keep each clause once.)
    for (uint32_t m : fill_marks) {
      if (pf.broad_matcher[m]) {
        fill_broad.push_back(m);
        continue;
      }
      for (uint32_t i = pf.matcher_clause_offsets[m]; i < pf.matcher_clause_offsets[m + 1]; ++i) {
        uint32_t c = pf.matcher_clauses[i];
        if (clause_fill_stamp[c] == fill_epoch) continue;
        clause_fill_stamp[c] = fill_epoch;
        fill_clauses.push_back(c);
      }
    }
    auto clauses = static_cast<uint32_t>(fill_clauses.size());
    auto broad = static_cast<uint32_t>(fill_broad.size());
    if (shape.way != nullptr) {
      MemoMarks unused;
      Store(shape, shape_key, false, parts, collected_gates, fill_clauses.data(), clauses,
            fill_broad.data(), broad, &unused);
    }
    if (p.way == nullptr) {
      *out = {fill_clauses.data(), fill_broad.data(), clauses, broad, collected_gates, nullptr};
      return true;
    }
    Store(p, key, has_decoded, parts, collected_gates, fill_clauses.data(), clauses,
          fill_broad.data(), broad, out);
    return true;
  }

  // Writes a way and its block (the marks are copied, so they may come from another block).
  void Store(const Probed& p, std::string_view key, bool has_decoded, const TargetParts* parts,
             SlotMask gates, const uint32_t* clause_marks, uint32_t clauses,
             const uint32_t* broad_marks, uint32_t broad, MemoMarks* out) {
    MemoEntry& entry = *p.entry;
    size_t key_words = KeyWords(key.size());
    size_t parts_words = parts != nullptr ? TargetParts::kWords : 0;
    entry.block.resize(kBlockHeaderWords + parts_words + key_words + clauses + broad);
    uint32_t* at = entry.block.data();
    std::memcpy(at, &gates, sizeof(gates));
    at += kBlockHeaderWords;
    if (parts != nullptr) parts->Pack(at);
    at += parts_words;
    if (key_words != 0) {
      at[key_words - 1] = 0;
      std::memcpy(at, key.data(), key.size());
    }
    at += key_words;
    std::copy(clause_marks, clause_marks + clauses, at);
    std::copy(broad_marks, broad_marks + broad, at + clauses);
    entry.regex_done = 0;
    entry.regex_marks.clear();
    *p.way = {p.hash,
              entry.block.data(),
              clauses,
              broad,
              static_cast<uint16_t>(key.size()),
              static_cast<uint8_t>(MemoWay::kFilled | (has_decoded ? MemoWay::kHasDecoded : 0) |
                                   (parts != nullptr ? MemoWay::kWithParts : 0))};
    *out = {at, at + clauses, clauses, broad, gates, &entry};
  }

  // Every check of the slot over its raw, decoded and resolved value (but the literal scan of
  // the raw value when raw_literals is false); Mark collects. False on a scan error.
  bool CollectSlot(size_t slot, std::string_view raw, std::string_view decoded, bool has_decoded,
                   std::string_view resolved, bool raw_literals = true) {
    const Prefilter& pf = rs.prefilter;
    for (int pass = 0; pass < 3; ++pass) {
      if ((pass == 1 && !has_decoded) || (pass == 2 && resolved.empty())) continue;
      std::string_view v = pass == 0 ? raw : pass == 1 ? decoded : resolved;
      if (short_slots >> slot & 1u) MarkShort(pf.short_literals[slot], v);
      if ((exact_slots >> slot & 1u) && LowerIfMaybe(rs.exact_filter[slot], v, &lower)) {
        auto it = rs.exact[slot].find(std::string_view(lower));
        if (it != rs.exact[slot].end()) {
          for (uint32_t m : it->second) Mark(m);
        }
      }
      if ((pass != 0 || raw_literals) && pf.literals[slot].db && !ScanLiteralBlock(slot, v)) {
        return false;
      }
    }
    return true;
  }

  // True when a rule with an `re` matcher in this slot has every plain clause marked: only
  // then can scanning the slot's `re` database complete it. Regex scans mark only clauses
  // that have an `re` matcher, so the answer does not depend on the order slots are scanned.
  bool RegexCanComplete(size_t slot) const {
    const Prefilter& pf = rs.prefilter;
    for (uint32_t r : pf.regex_rules[slot]) {
      uint32_t plain = rule_stamp[r] == pf_epoch ? rule_plain_marked[r] : 0;
      if (plain == pf.rule_plain_clauses[r]) return true;
    }
    return false;
  }

  bool Special(uint32_t m) {
    if (special[m] != 0) return special[m] == 2;
    const MatcherDef& def = rs.matchers[m];
    bool result = false;
    auto field = static_cast<Field>(def.slot);
    switch (def.kind) {
      case MatcherKind::kHs:
      case MatcherKind::kExact:
        break;
      case MatcherKind::kNull:
        result = !ev->Has(field) || ev->Get(field).empty();
        break;
      case MatcherKind::kExists:
        result = ev->Has(field);
        break;
      case MatcherKind::kNotExists:
        result = !ev->Has(field);
        break;
      case MatcherKind::kCidr:
        if (ev->Has(field)) {
          auto ip = ParseIp(ev->Get(field));
          // As the IoC store and pySigma: an address never falls in a network of the
          // other family (so '::/0' takes no IPv4 address).
          result = ip && ip->v4 == def.net.base.v4 && def.net.Contains(*ip);
        }
        break;
      case MatcherKind::kRegex: {
        auto test = [&](std::string_view v) {
          return v.size() <= kMaxFallbackValue && std::regex_search(v.begin(), v.end(), *def.regex);
        };
        if (def.slot == kKeywordSlot) {
          result = test(ev->Get(Field::kEventOriginal)) ||
                   (ev->HasDistinctDecoded(Field::kUrlOriginal) &&
                    test(ev->Decoded(Field::kUrlOriginal)));
        } else if (ev->Has(field)) {
          std::string_view resolved = ResolvedForm(*ev, def.slot);
          result = test(ev->Get(field)) ||
                   (ev->HasDistinctDecoded(field) && test(ev->Decoded(field))) ||
                   (!resolved.empty() && test(resolved));
        }
        break;
      }
    }
    special[m] = result ? 2 : 1;
    special_touched.push_back(m);
    return result;
  }

  bool Eval(const CompiledRule& r, uint32_t n) {
    const Node& node = r.nodes[n];
    switch (node.op) {
      case Node::Op::kConst:
        return node.value;
      case Node::Op::kLeaf: {
        uint32_t m = node.matcher;
        if (UsesBits(rs.matchers[m].kind)) {
          if (bits_unknown) {
            needs_scans = true;
            return false;
          }
          return (bits[m / 64] >> (m % 64)) & 1;
        }
        return Special(m);
      }
      case Node::Op::kNot:
        return !Eval(r, node.kids[0]);
      case Node::Op::kAnd:
        for (uint32_t k : node.kids) {
          if (!Eval(r, k)) return false;
        }
        return true;
      case Node::Op::kOr:
        for (uint32_t k : node.kids) {
          if (Eval(r, k)) return true;
        }
        return false;
    }
    return false;
  }

  // Evaluates the rules without a trigger, which are all the candidates when no trigger can
  // match. Returns false when one of them needs a matcher bit: the per-field scans must run.
  bool MatchWithoutScans(std::vector<uint32_t>* out) {
    bits_unknown = true;
    needs_scans = false;
    for (uint32_t r : rs.always) {
      if (Eval(rs.rules[r], rs.rules[r].root)) out->push_back(r);
      if (needs_scans) break;
    }
    bits_unknown = false;
    if (needs_scans) {
      out->clear();
      return false;
    }
    std::sort(out->begin(), out->end());
    for (uint32_t m : special_touched) special[m] = 0;
    special_touched.clear();
    return true;
  }

  void Match(const Event& e, std::vector<uint32_t>* out) {
    out->clear();
    ev = &e;
    ++events;
    if (prefilter_scratch && scratch && !MayTrigger(e) && MatchWithoutScans(out)) return;
    ++full_scans;
    if (++epoch == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      epoch = 1;
    }
    candidates.clear();
    if (scratch) {
      for (size_t slot = 0; slot < kFieldCount; ++slot) {
        if (!rs.dbs[slot]) continue;
        auto f = static_cast<Field>(slot);
        if (!e.Has(f)) continue;
        Scan(slot, e.Get(f));
        if (e.HasDistinctDecoded(f)) Scan(slot, e.Decoded(f));
        if (std::string_view resolved = ResolvedForm(e, slot); !resolved.empty()) {
          Scan(slot, resolved);
        }
      }
    }
    for (size_t slot = 0; slot < kFieldCount; ++slot) {
      if (rs.exact[slot].empty()) continue;
      auto f = static_cast<Field>(slot);
      if (!e.Has(f)) continue;
      Lookup(slot, e.Get(f));
      if (e.HasDistinctDecoded(f)) Lookup(slot, e.Decoded(f));
      if (std::string_view resolved = ResolvedForm(e, slot); !resolved.empty()) {
        Lookup(slot, resolved);
      }
    }
    if (scratch) {
      if (rs.dbs[kKeywordSlot]) {
        if (e.Has(Field::kEventOriginal)) Scan(kKeywordSlot, e.Get(Field::kEventOriginal));
        if (e.HasDistinctDecoded(Field::kUrlOriginal)) {
          Scan(kKeywordSlot, e.Decoded(Field::kUrlOriginal));
        }
      }
    }
    for (uint32_t r : rs.always) {
      if (stamp[r] != epoch) {
        stamp[r] = epoch;
        candidates.push_back(r);
      }
    }
    for (uint32_t r : candidates) {
      if (Eval(rs.rules[r], rs.rules[r].root)) out->push_back(r);
    }
    std::sort(out->begin(), out->end());
    for (uint32_t m : touched) bits[m / 64] = 0;
    touched.clear();
    for (uint32_t m : special_touched) special[m] = 0;
    special_touched.clear();
  }
};

RuleMatcher::RuleMatcher(const RuleSet& rules, MatchMode mode)
    : impl_(std::make_unique<Impl>(*rules.impl_, mode)) {}
RuleMatcher::~RuleMatcher() = default;
void RuleMatcher::Match(const Event& ev, std::vector<uint32_t>* out) {
  impl_->Match(ev, out);
}
void RuleMatcher::PrepareLines(std::string_view lines) {
  impl_->PrepareLines(lines);
}
uint64_t RuleMatcher::events() const {
  return impl_->events;
}
uint64_t RuleMatcher::full_scans() const {
  return impl_->full_scans;
}
uint64_t RuleMatcher::shape_hits() const {
  return impl_->shape_hits;
}

}  // namespace rampart::detect
