// yaml-cpp 0.7 accepts a quoted scalar that is never closed: the quote runs to the end of the
// document and swallows every line after it, so a rule missing one quote loads as a rule with
// no condition, and a config missing one loses the keys below it without a word. This finds
// such a quote so that the loader can name its line.
#pragma once

#include <yaml-cpp/node/node.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace rampart {

struct TextPosition {
  size_t line = 0;    // 0-based
  size_t column = 0;  // 0-based
};

// The first quoted scalar of `root` (parsed from `text`) whose quote is not closed before the
// end of `text`. Aliases are followed within a budget of nodes and of depth, so a document
// built to expand exponentially, or an alias inside its own anchor (a cycle), is not walked in
// full (the check then answers nothing for what lies beyond).
std::optional<TextPosition> FindUnclosedQuote(const YAML::Node& root, std::string_view text);

}  // namespace rampart
