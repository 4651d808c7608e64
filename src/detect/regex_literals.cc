#include "detect/regex_literals.h"

#include <algorithm>
#include <cctype>

namespace rampart::detect {

namespace {

// The index of the ']' closing the character class that opens at `open`, or npos. A '['
// inside the class (POSIX [:alpha:], collating [.a.] and [=a=] elements) is beyond this
// reader: npos, so that the whole pattern is given up on rather than misread.
size_t ClassEnd(std::string_view re, size_t open) {
  size_t j = open + 1;
  if (j < re.size() && re[j] == '^') ++j;
  if (j < re.size() && re[j] == ']') ++j;  // a leading ']' is a member
  while (j < re.size() && re[j] != ']') {
    if (re[j] == '[') return std::string_view::npos;
    j += (re[j] == '\\') ? 2 : 1;
  }
  return j < re.size() ? j : std::string_view::npos;
}

// Nested groups are read by recursion; deeper ones are given up on, so that a hostile rule
// cannot exhaust the stack.
constexpr int kMaxGroupDepth = 8;

bool RequiredLiterals(std::string_view re, std::vector<std::string>* out, bool* caseless,
                      int depth) {
  if (depth > kMaxGroupDepth) return false;
  out->clear();
  *caseless = false;
  // Vectorscan compiles the pattern as a C string, so a NUL ends it: a literal read past one
  // could be text the compiled pattern never asks for.
  if (re.find("\\Q") != std::string_view::npos || re.find('\0') != std::string_view::npos) {
    return false;
  }
  for (size_t at = re.find("(?"); at != std::string_view::npos; at = re.find("(?", at + 2)) {
    // Inline flags: i widens matching (the literal is then caseless); x would make spaces
    // in the pattern insignificant, which this reader does not follow.
    for (size_t j = at + 2; j < re.size() && re[j] != ')' && re[j] != ':'; ++j) {
      if (re[j] == 'x') return false;
      if (re[j] == 'i') *caseless = true;
    }
  }
  std::string best, run;
  // The literals of a group every match passes through once or more, one per alternative of
  // the group: used when the alternative has no long enough run of its own.
  std::vector<std::string> group_best;
  auto flush = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  auto shortest = [](const std::vector<std::string>& v) {
    size_t n = ~size_t{0};
    for (const auto& l : v) n = std::min(n, l.size());
    return v.empty() ? 0 : n;
  };
  auto end_alternative = [&] {
    flush();
    if (best.size() >= kMinRegexLiteral) {
      out->push_back(std::move(best));
    } else if (shortest(group_best) >= kMinRegexLiteral) {
      out->insert(out->end(), group_best.begin(), group_best.end());
    } else {
      return false;
    }
    best.clear();
    group_best.clear();
    return true;
  };
  // Reads a {m}, {m,} or {m,n} quantifier at i; false when it is not one.
  auto quantifier = [&](size_t* i, unsigned* min) {
    size_t j = *i + 1;
    unsigned m = 0;
    size_t digits = 0;
    while (j < re.size() && re[j] >= '0' && re[j] <= '9' && digits < 6) {
      m = m * 10 + static_cast<unsigned>(re[j] - '0');
      ++j;
      ++digits;
    }
    if (digits == 0) return false;
    if (j < re.size() && re[j] == ',') {
      ++j;
      while (j < re.size() && re[j] >= '0' && re[j] <= '9') ++j;
    }
    if (j >= re.size() || re[j] != '}') return false;
    *i = j + 1;
    *min = m;
    return true;
  };
  size_t i = 0;
  while (i < re.size()) {
    char c = re[i];
    bool literal = false;
    char byte = 0;
    if (c == '|') {
      if (!end_alternative()) return false;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= re.size()) return false;
      char e = re[i + 1];
      if (std::isalnum(static_cast<unsigned char>(e))) {
        // Classes and assertions break a run; anything else (\x, \p, back-references, ...)
        // is beyond this reader.
        if (std::string_view("dDwWsSbBAzZG").find(e) == std::string_view::npos) return false;
        flush();
      } else {
        literal = true;
        byte = e;
      }
      i += 2;
    } else if (c == '[') {
      size_t j = ClassEnd(re, i);
      if (j >= re.size()) return false;
      flush();
      i = j + 1;
    } else if (c == '(') {
      int open = 0;
      size_t j = i;
      for (; j < re.size(); ++j) {
        if (re[j] == '\\') {
          ++j;
        } else if (re[j] == '[') {
          j = ClassEnd(re, j);
          if (j >= re.size()) return false;
        } else if (re[j] == '(') {
          ++open;
        } else if (re[j] == ')' && --open == 0) {
          break;
        }
      }
      if (j >= re.size()) return false;
      flush();
      std::string_view inner = re.substr(i + 1, j - i - 1);
      bool capturing = !inner.starts_with('?');
      if (inner.starts_with("?:")) {
        inner.remove_prefix(2);
        capturing = true;  // a plain non-capturing group: its content must match
      }
      i = j + 1;
      bool optional = i < re.size() && (re[i] == '?' || re[i] == '*' ||
                                        (re[i] == '{' && i + 1 < re.size() && re[i + 1] == '0'));
      std::vector<std::string> inner_literals;
      bool inner_caseless = false;
      if (capturing && !optional &&
          RequiredLiterals(inner, &inner_literals, &inner_caseless, depth + 1) &&
          shortest(inner_literals) > shortest(group_best)) {
        group_best = std::move(inner_literals);
      }
    } else if (c == ')' || c == ']') {
      return false;
    } else if (c == '.' || c == '^' || c == '$') {
      flush();
      ++i;
    } else if (c == '*' || c == '+' || c == '?' || c == '{') {
      return false;  // a quantifier with nothing before it to apply to
    } else {
      literal = true;
      byte = c;
      ++i;
    }
    // A quantifier after this item: optional ones drop a literal from the run, and any
    // repetition ends the run (what follows may come after several copies).
    if (i < re.size() && (re[i] == '*' || re[i] == '+' || re[i] == '?' || re[i] == '{')) {
      unsigned min = 0;
      if (re[i] == '{') {
        if (!quantifier(&i, &min)) return false;
      } else {
        min = re[i] == '+' ? 1 : 0;
        ++i;
      }
      if (i < re.size() && (re[i] == '?' || re[i] == '+')) ++i;  // lazy or possessive
      if (literal && min > 0) run.push_back(byte);
      flush();
      continue;
    }
    if (literal) run.push_back(byte);
  }
  return end_alternative();
}

}  // namespace

bool RegexRequiredLiterals(std::string_view re, std::vector<std::string>* out, bool* caseless) {
  return RequiredLiterals(re, out, caseless, 0);
}

}  // namespace rampart::detect
