#include "common/yaml_quotes.h"

#include <yaml-cpp/node/impl.h>
#include <yaml-cpp/node/iterator.h>

namespace rampart {
namespace {

// Enough for any real rule, playbook or config file; an alias bomb runs out of it, and an
// alias inside its own anchor (yaml-cpp builds a cycle) out of the depth.
constexpr size_t kNodeBudget = 200000;
constexpr size_t kMaxDepth = 64;

bool QuoteClosed(std::string_view text, size_t open) {
  char quote = text[open];
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // the escaped byte, whatever it is
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
      } else {
        return true;
      }
    }
  }
  return false;
}

class QuoteWalker {
 public:
  explicit QuoteWalker(std::string_view text) : text_(text) {}

  std::optional<TextPosition> Walk(const YAML::Node& node, size_t depth = 0) {
    if (++visited_ > kNodeBudget || depth > kMaxDepth) return std::nullopt;
    if (node.IsScalar()) return Check(node);
    if (node.IsSequence()) {
      for (const YAML::Node& child : node) {
        if (auto found = Walk(child, depth + 1)) return found;
      }
    } else if (node.IsMap()) {
      for (const auto& entry : node) {
        if (auto found = Walk(entry.first, depth + 1)) return found;
        if (auto found = Walk(entry.second, depth + 1)) return found;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<TextPosition> Check(const YAML::Node& scalar) const {
    // yaml-cpp tags a quoted scalar "!" (non-specific); a plain one "?".
    if (scalar.Tag() != "!") return std::nullopt;
    YAML::Mark mark = scalar.Mark();
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return std::nullopt;
    auto pos = static_cast<size_t>(mark.pos);
    if (text_[pos] != '"' && text_[pos] != '\'') return std::nullopt;
    if (QuoteClosed(text_, pos)) return std::nullopt;
    return TextPosition{static_cast<size_t>(mark.line), static_cast<size_t>(mark.column)};
  }

  std::string_view text_;
  size_t visited_ = 0;
};

}  // namespace

std::optional<TextPosition> FindUnclosedQuote(const YAML::Node& root, std::string_view text) {
  return QuoteWalker(text).Walk(root);
}

}  // namespace rampart
