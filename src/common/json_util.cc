#include "common/json_util.h"

#include <nlohmann/json.hpp>

namespace rampart::jsonutil {

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

}  // namespace rampart::jsonutil
