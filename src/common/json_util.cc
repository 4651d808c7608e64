#include "common/json_util.h"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace rampart::jsonutil {
namespace {

// Bjoern Hoehrmann's UTF-8 decoder as nlohmann::json's serializer runs it: each byte's class,
// then state * 16 + class gives the next state (0 accepts a code point, 1 rejects).
constexpr uint8_t kUtf8Class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1, 1, 1, 1, 9,
    9, 9, 9, 9, 9, 9, 9, 9, 9,  9, 9, 9, 9, 9, 9, 7, 7, 7, 7, 7, 7, 7,  7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7,  7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 2, 2,  2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2,  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 10, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 4, 3, 3, 11, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8,  8, 8};
constexpr uint8_t kUtf8Next[144] = {
    0, 1, 2, 3, 5, 8, 7, 1, 1, 1, 4, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 2,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1,
    1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
constexpr uint8_t kUtf8Accept = 0;
constexpr uint8_t kUtf8Reject = 1;

// Printable ASCII but '"' and '\\': copied as they are, in runs.
constexpr std::array<bool, 256> kPlainJsonByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

}  // namespace

using nlohmann::json;

Result<json> ParseObject(std::string_view text) {
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  if (!value.is_object()) return Status::InvalidArgument("body must be a JSON object");
  return value;
}

Status RejectUnknownFields(const json& obj, std::initializer_list<std::string_view> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (auto a : allowed) {
      if (it.key() == a) {
        known = true;
        break;
      }
    }
    if (!known) return Status::InvalidArgument("unknown field '" + it.key() + "'");
  }
  return Status::Ok();
}

bool Has(const json& obj, std::string_view key) {
  return obj.is_object() && obj.contains(std::string(key));
}

static Status Missing(std::string_view key) {
  return Status::InvalidArgument("field '" + std::string(key) + "' is required");
}

Status GetString(const json& obj, std::string_view key, std::string* out, bool required,
                 size_t max_len) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return required ? Missing(key) : Status::Ok();
  if (!it->is_string()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be a string");
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_len) {
    return Status::InvalidArgument("field '" + std::string(key) + "' is longer than " +
                                   std::to_string(max_len) + " bytes");
  }
  *out = s;
  return Status::Ok();
}

Status GetInt(const json& obj, std::string_view key, int64_t* out, bool required, int64_t min,
              int64_t max) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return required ? Missing(key) : Status::Ok();
  if (!it->is_number_integer()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be an integer");
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    auto u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) {
      return Status::InvalidArgument("field '" + std::string(key) + "' is out of range");
    }
    v = static_cast<int64_t>(u);
  } else {
    v = it->get<int64_t>();
  }
  if (v < min || v > max) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be between " +
                                   std::to_string(min) + " and " + std::to_string(max));
  }
  *out = v;
  return Status::Ok();
}

Status GetBool(const json& obj, std::string_view key, bool* out, bool required) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return required ? Missing(key) : Status::Ok();
  if (!it->is_boolean()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be true or false");
  }
  *out = it->get<bool>();
  return Status::Ok();
}

Status GetStringList(const json& obj, std::string_view key, std::vector<std::string>* out,
                     bool required, size_t max_items, size_t max_len) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return required ? Missing(key) : Status::Ok();
  const std::string name(key);
  if (!it->is_array()) return Status::InvalidArgument("field '" + name + "' must be an array");
  if (it->size() > max_items) {
    return Status::InvalidArgument("field '" + name + "' has more than " +
                                   std::to_string(max_items) + " items");
  }
  std::vector<std::string> items;
  for (const auto& e : *it) {
    if (!e.is_string()) {
      return Status::InvalidArgument("field '" + name + "' must contain only strings");
    }
    if (e.get_ref<const std::string&>().size() > max_len) {
      return Status::InvalidArgument("an item of '" + name + "' is too long");
    }
    items.push_back(e.get<std::string>());
  }
  *out = std::move(items);
  return Status::Ok();
}

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void AppendString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  const char* p = s.data();
  const size_t n = s.size();
  out->push_back('"');
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && kPlainJsonByte[static_cast<unsigned char>(p[run])]) ++run;
    out->append(p + i, run - i);
    i = run;
    if (i == n) break;
    auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x80) {
      char esc = 0;
      switch (c) {
        case '"':
          esc = '"';
          break;
        case '\\':
          esc = '\\';
          break;
        case 0x08:
          esc = 'b';
          break;
        case 0x09:
          esc = 't';
          break;
        case 0x0A:
          esc = 'n';
          break;
        case 0x0C:
          esc = 'f';
          break;
        case 0x0D:
          esc = 'r';
          break;
        default:
          break;
      }
      if (esc != 0) {
        out->push_back('\\');
        out->push_back(esc);
      } else {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(u, sizeof(u));
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: kept whole when it decodes; else one U+FFFD, and the byte that
    // broke a sequence begun before it is read again as the start of the next.
    uint8_t state = kUtf8Accept;
    for (size_t k = i;; ++k) {
      if (k == n) {
        out->append(kReplacement);
        i = n;
        break;
      }
      state = kUtf8Next[state * 16 + kUtf8Class[static_cast<unsigned char>(p[k])]];
      if (state == kUtf8Accept) {
        out->append(p + i, k + 1 - i);
        i = k + 1;
        break;
      }
      if (state == kUtf8Reject) {
        out->append(kReplacement);
        i = k > i ? k : k + 1;
        break;
      }
    }
  }
  out->push_back('"');
}

}  // namespace rampart::jsonutil
