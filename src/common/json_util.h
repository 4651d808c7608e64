// Strict readers for JSON request bodies: each returns InvalidArgument naming the field when it
// is missing (and required), of the wrong type, or out of range. Input is untrusted.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::jsonutil {

// Parses text that must be a JSON object; depth and size are bounded by the caller's body limit.
Result<nlohmann::json> ParseObject(std::string_view text);

Status RejectUnknownFields(const nlohmann::json& obj,
                           std::initializer_list<std::string_view> allowed);

// Each Get* leaves *out untouched when the key is absent and not required.
Status GetString(const nlohmann::json& obj, std::string_view key, std::string* out, bool required,
                 size_t max_len = 1024);
Status GetInt(const nlohmann::json& obj, std::string_view key, int64_t* out, bool required,
              int64_t min, int64_t max);
Status GetBool(const nlohmann::json& obj, std::string_view key, bool* out, bool required);
Status GetStringList(const nlohmann::json& obj, std::string_view key, std::vector<std::string>* out,
                     bool required, size_t max_items = 1000, size_t max_len = 256);
bool Has(const nlohmann::json& obj, std::string_view key);

// Serialises without throwing on invalid UTF-8 (replaced with U+FFFD).
std::string Dump(const nlohmann::json& value);

// Appends s as a JSON string literal, quotes included, byte for byte as Dump writes a string
// (dump(-1, ' ', false, error_handler_t::replace)), for writers that build JSON text directly
// (`rampart scan`'s alerts): '"', '\\' and control bytes escaped (\b \t \n \f \r, else
// \u00xx), valid UTF-8 kept, each invalid sequence replaced by U+FFFD as nlohmann's decoder
// delimits it.
void AppendString(std::string_view s, std::string* out);

}  // namespace rampart::jsonutil
