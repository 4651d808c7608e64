#include "common/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

#include "common/forwarded.h"
#include "common/ip.h"
#include "common/yaml_quotes.h"

namespace rampart {
namespace {

template <typename T>
Status ReadNumber(const YAML::Node& node, const std::string& key, T* out) {
  try {
    auto v = node.as<int64_t>();
    if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
      return Status::InvalidArgument("config: '" + key + "' is out of range");
    }
    *out = static_cast<T>(v);
    return Status::Ok();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument("config: '" + key + "' must be a non-negative integer");
  }
}

// For limits where 0 would silently mean "no sessions" or "never locked": refused instead.
// Minutes east of UTC, as a zone's standard or summer offset: -840..840.
Status ReadUtcOffset(const YAML::Node& node, const std::string& key, int32_t* out) {
  int64_t offset = 0;
  try {
    offset = node.as<int64_t>();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument("config: '" + key + "' must be an integer");
  }
  if (offset < -14 * 60 || offset > 14 * 60) {
    return Status::InvalidArgument("config: '" + key + "' must be within -840..840");
  }
  *out = static_cast<int32_t>(offset);
  return Status::Ok();
}

Status ReadPositive(const YAML::Node& node, const std::string& key, uint32_t* out) {
  RAMPART_RETURN_IF_ERROR(ReadNumber(node, key, out));
  if (*out == 0) return Status::InvalidArgument("config: '" + key + "' must be at least 1");
  return Status::Ok();
}

Status ReadString(const YAML::Node& node, const std::string& key, std::string* out) {
  if (!node.IsScalar()) return Status::InvalidArgument("config: '" + key + "' must be a string");
  *out = node.as<std::string>();
  return Status::Ok();
}

Status ReadBool(const YAML::Node& node, const std::string& key, bool* out) {
  try {
    *out = node.as<bool>();
    return Status::Ok();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument("config: '" + key + "' must be true or false");
  }
}

// A listening address, "HOST:PORT" ("[v6]:PORT"), or empty for none; errors name the key.
Status ReadListenAddress(const YAML::Node& node, const std::string& key, std::string* out) {
  std::string value;
  RAMPART_RETURN_IF_ERROR(ReadString(node, key, &value));
  if (!value.empty()) {
    std::string host;
    uint16_t port = 0;
    if (Status s = ParseHostPort(value, &host, &port); !s.ok()) {
      return Status::InvalidArgument("config: '" + key + "': " + s.message());
    }
  }
  *out = std::move(value);
  return Status::Ok();
}

// A listen address a socket is bound to as given, without resolving a name: the syslog
// receiver's (detect/syslog.h).
Status ReadNumericListenAddress(const YAML::Node& node, const std::string& key, std::string* out) {
  RAMPART_RETURN_IF_ERROR(ReadListenAddress(node, key, out));
  if (out->empty()) return Status::Ok();
  std::string host;
  uint16_t port = 0;
  RAMPART_RETURN_IF_ERROR(ParseHostPort(*out, &host, &port));
  in6_addr any{};
  if (::inet_pton(AF_INET, host.c_str(), &any) != 1 &&
      ::inet_pton(AF_INET6, host.c_str(), &any) != 1) {
    return Status::InvalidArgument("config: '" + key + "': '" + host +
                                   "' is not a numeric IP address (a listener is bound to an "
                                   "address, not a name)");
  }
  return Status::Ok();
}

Status ReadStringList(const YAML::Node& node, const std::string& key,
                      std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    return Status::InvalidArgument("config: '" + key + "' must be a list of strings");
  }
  std::vector<std::string> values;
  for (const auto& v : node) {
    if (!v.IsScalar()) {
      return Status::InvalidArgument("config: '" + key + "' must be a list of strings");
    }
    values.push_back(v.as<std::string>());
  }
  *out = std::move(values);
  return Status::Ok();
}

Status ReadStringMap(const YAML::Node& node, const std::string& key,
                     std::map<std::string, std::string>* out) {
  if (!node.IsMap()) {
    return Status::InvalidArgument("config: '" + key + "' must be a map of strings to strings");
  }
  std::map<std::string, std::string> values;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
      return Status::InvalidArgument("config: '" + key + "' must be a map of strings to strings");
    }
    values[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  *out = std::move(values);
  return Status::Ok();
}

Status ApplyIncidents(const YAML::Node& node, IncidentsConfig* d) {
  if (!node.IsMap()) return Status::InvalidArgument("config: 'incidents' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = "incidents." + key;
    std::string* text = key == "organisation"            ? &d->organisation
                        : key == "member_state"          ? &d->member_state
                        : key == "csirt"                 ? &d->csirt
                        : key == "supervisory_authority" ? &d->supervisory_authority
                        : key == "dpo_name"              ? &d->dpo_name
                        : key == "dpo_email"             ? &d->dpo_email
                        : key == "dpo_phone"             ? &d->dpo_phone
                                                         : nullptr;
    if (key == "group_window_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadPositive(v, name, &d->group_window_seconds));
    } else if (text != nullptr) {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, text));
      if (text->size() > 200) {
        return Status::InvalidArgument("config: '" + name + "' is longer than 200 bytes");
      }
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  return Status::Ok();
}

// One entry of response.decision_webhooks; `prefix` names it ("response.decision_webhooks[0]").
// Messages name keys, never a secret's value.
Status ApplyDecisionWebhook(const YAML::Node& node, const std::string& prefix,
                            DecisionWebhookConfig* w) {
  if (!node.IsMap()) return Status::InvalidArgument("config: '" + prefix + "' must be a mapping");
  auto range = [&](const std::string& name, uint32_t value, uint32_t lo, uint32_t hi) {
    if (value < lo || value > hi) {
      return Status::InvalidArgument("config: '" + name + "' must be between " +
                                     std::to_string(lo) + " and " + std::to_string(hi));
    }
    return Status::Ok();
  };
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = prefix + "." + key;
    if (key == "url") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &w->url));
    } else if (key == "secret") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &w->secret));
      if (w->secret.empty()) return Status::InvalidArgument("config: '" + name + "' is empty");
    } else if (key == "secret_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &w->secret_file));
      if (w->secret_file.empty()) return Status::InvalidArgument("config: '" + name + "' is empty");
    } else if (key == "ca_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &w->ca_file));
    } else if (key == "timeout_ms") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &w->timeout_ms));
      RAMPART_RETURN_IF_ERROR(range(name, w->timeout_ms, 1, 120000));
    } else if (key == "max_attempts") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &w->max_attempts));
      RAMPART_RETURN_IF_ERROR(range(name, w->max_attempts, 1, 20));
    } else if (key == "initial_backoff_ms") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &w->initial_backoff_ms));
      RAMPART_RETURN_IF_ERROR(range(name, w->initial_backoff_ms, 1, 60000));
    } else if (key == "queue_capacity") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &w->queue_capacity));
      RAMPART_RETURN_IF_ERROR(range(name, w->queue_capacity, 1, 1000000));
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  const bool https = w->url.rfind("https://", 0) == 0;
  if (!https && w->url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("config: '" + prefix +
                                   ".url' must start with https:// or http://");
  }
  if (https && w->ca_file.empty()) {
    return Status::InvalidArgument("config: '" + prefix +
                                   ".ca_file' is required for an https url (the CA to pin)");
  }
  if (w->secret.empty() == w->secret_file.empty()) {
    return Status::InvalidArgument("config: '" + prefix +
                                   "' needs exactly one of 'secret' and 'secret_file'");
  }
  return Status::Ok();
}

Status ApplyResponse(const YAML::Node& node, ResponseConfig* r) {
  if (!node.IsMap()) return Status::InvalidArgument("config: 'response' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = "response." + key;
    if (key == "playbooks") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &r->playbooks));
    } else if (key == "playbook_dirs") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &r->playbook_dirs));
    } else if (key == "action_max_attempts") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &r->action_max_attempts));
      if (r->action_max_attempts == 0 || r->action_max_attempts > 20) {
        return Status::InvalidArgument("config: '" + name + "' must be between 1 and 20");
      }
    } else if (key == "action_backoff_ms") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &r->action_backoff_ms));
      if (r->action_backoff_ms > 60000) {
        return Status::InvalidArgument("config: '" + name + "' must be at most 60000");
      }
    } else if (key == "lift_request_ttl_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &r->lift_request_ttl_seconds));
      if (r->lift_request_ttl_seconds < 60 || r->lift_request_ttl_seconds > 7 * 24 * 3600) {
        return Status::InvalidArgument("config: '" + name +
                                       "' must be between 60 and 604800 (a week)");
      }
    } else if (key == "evidence_retention_days") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &r->evidence_retention_days));
      if (r->evidence_retention_days > 36500) {
        return Status::InvalidArgument("config: '" + name + "' must be at most 36500 (0: keep)");
      }
    } else if (key == "never_block") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &r->never_block));
    } else if (key == "decision_webhooks") {
      if (!v.IsSequence()) {
        return Status::InvalidArgument("config: '" + name + "' must be a list of mappings");
      }
      std::vector<DecisionWebhookConfig> hooks;
      for (size_t i = 0; i < v.size(); ++i) {
        DecisionWebhookConfig w;
        RAMPART_RETURN_IF_ERROR(
            ApplyDecisionWebhook(v[i], name + "[" + std::to_string(i) + "]", &w));
        hooks.push_back(std::move(w));
      }
      r->decision_webhooks = std::move(hooks);
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  return Status::Ok();
}

// "HH:MM", 00:00 to 24:00.
Status ReadClock(const YAML::Node& node, const std::string& key, uint32_t* minutes) {
  std::string text;
  RAMPART_RETURN_IF_ERROR(ReadString(node, key, &text));
  bool ok = text.size() == 5 && text[2] == ':';
  for (size_t i : {0, 1, 3, 4}) ok = ok && text[i] >= '0' && text[i] <= '9';
  uint32_t h = ok ? static_cast<uint32_t>((text[0] - '0') * 10 + (text[1] - '0')) : 0;
  uint32_t m = ok ? static_cast<uint32_t>((text[3] - '0') * 10 + (text[4] - '0')) : 0;
  if (!ok || m > 59 || h * 60 + m > 24 * 60) {
    return Status::InvalidArgument("config: '" + key + "' must be a time \"HH:MM\"");
  }
  *minutes = h * 60 + m;
  return Status::Ok();
}

Status ApplyWorkingHours(const YAML::Node& node, DetectionConfig::WorkingHours* w) {
  const std::string prefix = "detection.working_hours";
  if (!node.IsMap()) return Status::InvalidArgument("config: '" + prefix + "' must be a mapping");
  static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = prefix + "." + key;
    if (key == "days") {
      std::vector<std::string> days;
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &days));
      uint8_t mask = 0;
      for (const auto& day : days) {
        size_t i = 0;
        while (i < 7 && kDays[i] != day) ++i;
        if (i == 7) {
          return Status::InvalidArgument("config: '" + name + "': unknown day '" + day +
                                         "' (mon, tue, wed, thu, fri, sat, sun)");
        }
        mask = static_cast<uint8_t>(mask | (1u << i));
      }
      w->days = mask;
    } else if (key == "start") {
      RAMPART_RETURN_IF_ERROR(ReadClock(v, name, &w->start_minute));
    } else if (key == "end") {
      RAMPART_RETURN_IF_ERROR(ReadClock(v, name, &w->end_minute));
    } else if (key == "utc_offset_minutes") {
      RAMPART_RETURN_IF_ERROR(ReadUtcOffset(v, name, &w->utc_offset_minutes));
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  if (w->start_minute == w->end_minute) {
    return Status::InvalidArgument("config: '" + prefix + "' start and end must differ");
  }
  return Status::Ok();
}

// Syslog over TLS needs its certificate and key; TLS files without the listener mean the
// operator believes TLS is on when it is not. The files themselves are read at start.
Status CheckSyslogTls(const DetectionConfig& d) {
  const std::pair<const char*, const std::string*> files[] = {
      {"syslog_tls_cert", &d.syslog_tls_cert},
      {"syslog_tls_key", &d.syslog_tls_key},
      {"syslog_tls_client_ca", &d.syslog_tls_client_ca}};
  for (const auto& [key, value] : files) {
    const bool required = std::string_view(key) != "syslog_tls_client_ca";
    if (!d.syslog_tls_listen.empty() && required && value->empty()) {
      return Status::InvalidArgument(std::string("config: 'detection.") + key +
                                     "' is required with 'detection.syslog_tls_listen'");
    }
    if (d.syslog_tls_listen.empty() && !value->empty()) {
      return Status::InvalidArgument(std::string("config: 'detection.") + key +
                                     "' is set but 'detection.syslog_tls_listen' is not");
    }
  }
  return Status::Ok();
}

// Each entry must be a proxy's address or a narrow range (ParseTrustedProxy says why).
Status CheckTrustedProxies(const std::vector<std::string>& entries, const std::string& key) {
  for (size_t i = 0; i < entries.size(); ++i) {
    auto proxy = ParseTrustedProxy(entries[i]);
    if (!proxy.ok()) {
      return Status::InvalidArgument("config: '" + key + "[" + std::to_string(i) +
                                     "]': " + proxy.status().message());
    }
  }
  return Status::Ok();
}

Status ApplyDetection(const YAML::Node& node, DetectionConfig* d) {
  if (!node.IsMap()) return Status::InvalidArgument("config: 'detection' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = "detection." + key;
    if (key == "enabled") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &d->enabled));
    } else if (key == "queue_capacity") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->queue_capacity));
      if (d->queue_capacity == 0) {
        return Status::InvalidArgument("config: '" + name + "' must be at least 1");
      }
    } else if (key == "max_tracked_keys") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->max_tracked_keys));
    } else if (key == "correlation_checkpoint_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->correlation_checkpoint_seconds));
    } else if (key == "max_evidence") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->max_evidence));
    } else if (key == "rule_dirs") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->rule_dirs));
    } else if (key == "ioc_files") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->ioc_files));
    } else if (key == "reload_on_change") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &d->reload_on_change));
    } else if (key == "reload_settle_millis") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->reload_settle_millis));
    } else if (key == "canary_paths") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->canary_paths));
    } else if (key == "canary_token_ids") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->canary_token_ids));
    } else if (key == "alerts_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->alerts_file));
    } else if (key == "syslog") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->syslog));
      std::string host;
      uint16_t port = 0;
      RAMPART_RETURN_IF_ERROR(ParseHostPort(d->syslog, &host, &port));
    } else if (key == "webhook_url") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->webhook_url));
    } else if (key == "webhook_secret_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->webhook_secret_file));
    } else if (key == "webhook_ca_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->webhook_ca_file));
    } else if (key == "webhook_max_attempts") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->webhook_max_attempts));
    } else if (key == "webhook_initial_backoff_ms") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->webhook_initial_backoff_ms));
    } else if (key == "sink_queue_capacity") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &d->sink_queue_capacity));
    } else if (key == "follow") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->follow));
      for (const auto& path : d->follow) {
        if (path.empty() || path[0] != '/') {
          return Status::InvalidArgument("config: '" + name + "' paths must be absolute");
        }
      }
    } else if (key == "follow_formats") {
      RAMPART_RETURN_IF_ERROR(ReadStringMap(v, name, &d->follow_formats));
    } else if (key == "syslog_formats") {
      RAMPART_RETURN_IF_ERROR(ReadStringMap(v, name, &d->syslog_formats));
    } else if (key == "log_trusted_proxies") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->log_trusted_proxies));
      RAMPART_RETURN_IF_ERROR(CheckTrustedProxies(d->log_trusted_proxies, name));
    } else if (key == "follow_poll_millis") {
      RAMPART_RETURN_IF_ERROR(ReadPositive(v, name, &d->follow_poll_millis));
    } else if (key == "syslog_listen") {
      RAMPART_RETURN_IF_ERROR(ReadNumericListenAddress(v, name, &d->syslog_listen));
    } else if (key == "syslog_tls_listen") {
      RAMPART_RETURN_IF_ERROR(ReadNumericListenAddress(v, name, &d->syslog_tls_listen));
    } else if (key == "syslog_tls_cert") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->syslog_tls_cert));
    } else if (key == "syslog_tls_key") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->syslog_tls_key));
    } else if (key == "syslog_tls_client_ca") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &d->syslog_tls_client_ca));
    } else if (key == "syslog_bsd_utc_offset_minutes") {
      RAMPART_RETURN_IF_ERROR(ReadUtcOffset(v, name, &d->syslog_bsd_utc_offset_minutes));
    } else if (key == "admin_login_new_address") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &d->admin_login_new_address));
    } else if (key == "new_file_use") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &d->new_file_use));
    } else if (key == "staged_download_kib") {
      RAMPART_RETURN_IF_ERROR(ReadPositive(v, name, &d->staged_download_kib));
    } else if (key == "working_hours") {
      RAMPART_RETURN_IF_ERROR(ApplyWorkingHours(v, &d->working_hours));
    } else if (key == "integrity_paths") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->integrity_paths));
      for (const auto& p : d->integrity_paths) {
        if (p.empty()) return Status::InvalidArgument("config: '" + name + "' holds an empty path");
      }
    } else if (key == "integrity_exclude") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &d->integrity_exclude));
    } else if (key == "integrity_rescan_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadPositive(v, name, &d->integrity_rescan_seconds));
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  // A layout for a file that is not followed is a typo that would leave the file read by the
  // built-in formats' guesses.
  auto check_prefix = [](const std::string& key, const std::string& format) {
    if (format.starts_with("nginx:") || format.starts_with("apache:")) return Status::Ok();
    return Status::InvalidArgument("config: '" + key + "' must start with 'nginx:' or 'apache:'");
  };
  for (const auto& [path, format] : d->follow_formats) {
    if (std::find(d->follow.begin(), d->follow.end(), path) == d->follow.end()) {
      return Status::InvalidArgument("config: 'detection.follow_formats' names '" + path +
                                     "', which is not in 'detection.follow'");
    }
    RAMPART_RETURN_IF_ERROR(check_prefix("detection.follow_formats." + path, format));
  }
  for (const auto& [app, format] : d->syslog_formats) {
    // RFC 5424's APP-NAME: 1 to 48 printable ASCII characters; a key that no header can carry
    // (a space, a ':' that ends an RFC 3164 tag) is a typo that would leave the layout unused.
    const bool usable =
        !app.empty() && app.size() <= 48 && std::all_of(app.begin(), app.end(), [](char c) {
          return c > ' ' && c < 127 && c != ':' && c != '[';
        });
    if (!usable) {
      return Status::InvalidArgument("config: 'detection.syslog_formats' key '" + app +
                                     "' cannot be an APP-NAME (1 to 48 printable characters, "
                                     "no ':' or '[')");
    }
    RAMPART_RETURN_IF_ERROR(check_prefix("detection.syslog_formats." + app, format));
  }
  if (!d->syslog_formats.empty() && d->syslog_listen.empty() && d->syslog_tls_listen.empty()) {
    return Status::InvalidArgument(
        "config: 'detection.syslog_formats' is set but no syslog listener is "
        "('detection.syslog_listen' or 'detection.syslog_tls_listen')");
  }
  return CheckSyslogTls(*d);
}

Status ApplyHttp(const YAML::Node& node, HttpLimits* http, HttpForwarding* forwarding) {
  if (!node.IsMap()) return Status::InvalidArgument("config: 'http' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = "http." + key;
    if (key == "max_header_bytes") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->max_header_bytes));
    } else if (key == "max_body_bytes") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->max_body_bytes));
    } else if (key == "max_upload_bytes") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->max_upload_bytes));
    } else if (key == "max_connections") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->max_connections));
    } else if (key == "idle_timeout_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->idle_timeout_seconds));
    } else if (key == "read_timeout_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->read_timeout_seconds));
    } else if (key == "requests_per_second_per_connection") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &http->requests_per_second_per_connection));
    } else if (key == "trusted_proxies") {
      RAMPART_RETURN_IF_ERROR(ReadStringList(v, name, &forwarding->trusted_proxies));
      RAMPART_RETURN_IF_ERROR(CheckTrustedProxies(forwarding->trusted_proxies, name));
    } else if (key == "metrics_listen") {
      RAMPART_RETURN_IF_ERROR(ReadListenAddress(v, name, &forwarding->metrics_listen));
    } else if (key == "client_address_header") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &forwarding->client_address_header));
      if (!ForwardedHeaderNamed(forwarding->client_address_header)) {
        return Status::InvalidArgument(
            "config: 'http.client_address_header' must be x-forwarded-for, forwarded or x-real-ip");
      }
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  return Status::Ok();
}

Status ApplyKeeper(const YAML::Node& node, KeeperSettings* k) {
  if (!node.IsMap()) return Status::InvalidArgument("config: 'keeper' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string name = "keeper." + key;
    if (key == "socket") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &k->socket));
    } else if (key == "budget_superadmin") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->budget_superadmin));
    } else if (key == "budget_admin") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->budget_admin));
    } else if (key == "budget_helpdesk") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->budget_helpdesk));
    } else if (key == "budget_analyst") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->budget_analyst));
    } else if (key == "budget_auditor") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->budget_auditor));
    } else if (key == "canary_staff_per_institution") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->canary_staff_per_institution));
      if (k->canary_staff_per_institution > 100) {
        return Status::InvalidArgument(
            "config: 'keeper.canary_staff_per_institution' is at most 100");
      }
    } else if (key == "export_records_per_day") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->export_records_per_day));
    } else if (key == "max_destructive_commands_per_hour") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->max_destructive_commands_per_hour));
    } else if (key == "audit_sync_each_append") {
      RAMPART_RETURN_IF_ERROR(ReadBool(v, name, &k->audit_sync_each_append));
    } else if (key == "audit_mirror_file") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &k->audit_mirror_file));
    } else if (key == "audit_syslog") {
      RAMPART_RETURN_IF_ERROR(ReadString(v, name, &k->audit_syslog));
    } else if (key == "checkpoint_interval_seconds") {
      RAMPART_RETURN_IF_ERROR(ReadNumber(v, name, &k->checkpoint_interval_seconds));
      if (k->checkpoint_interval_seconds == 0) {
        return Status::InvalidArgument("config: 'keeper.checkpoint_interval_seconds' must be > 0");
      }
    } else {
      return Status::InvalidArgument("config: unknown key '" + name + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyConfigYaml(const std::string& yaml_text, Config* config) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("config: YAML error at line " + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  if (auto quote = FindUnclosedQuote(root, yaml_text)) {
    return Status::InvalidArgument("config: YAML error at line " + std::to_string(quote->line + 1) +
                                   ": the quote opened at column " +
                                   std::to_string(quote->column + 1) + " is never closed");
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return Status::InvalidArgument("config: top level must be a mapping");
  Config c = *config;  // apply all or nothing
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "data_dir") {
        RAMPART_RETURN_IF_ERROR(ReadString(v, key, &c.data_dir));
      } else if (key == "listen") {
        RAMPART_RETURN_IF_ERROR(ReadString(v, key, &c.listen));
        std::string host;
        uint16_t port = 0;
        RAMPART_RETURN_IF_ERROR(ParseHostPort(c.listen, &host, &port));
      } else if (key == "tls") {
        RAMPART_RETURN_IF_ERROR(ReadBool(v, key, &c.tls));
      } else if (key == "threads") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.threads));
      } else if (key == "log_level") {
        RAMPART_RETURN_IF_ERROR(ReadString(v, key, &c.log_level));
        if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
            c.log_level != "error") {
          return Status::InvalidArgument("config: 'log_level' must be debug, info, warn or error");
        }
      } else if (key == "http") {
        RAMPART_RETURN_IF_ERROR(ApplyHttp(v, &c.http, &c.http_forwarding));
      } else if (key == "keeper") {
        RAMPART_RETURN_IF_ERROR(ApplyKeeper(v, &c.keeper));
      } else if (key == "device_clock_skew_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.device_clock_skew_seconds));
      } else if (key == "checkin_interval_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.checkin_interval_seconds));
      } else if (key == "command_expiry_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.command_expiry_seconds));
      } else if (key == "not_now_retry_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.not_now_retry_seconds));
      } else if (key == "max_not_now") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.max_not_now));
      } else if (key == "command_redeliver_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.command_redeliver_seconds));
      } else if (key == "mass_command_threshold") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.mass_command_threshold));
      } else if (key == "compliance_grace_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.compliance_grace_seconds));
      } else if (key == "session_idle_timeout_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.session_idle_timeout_seconds));
      } else if (key == "session_lifetime_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.session_lifetime_seconds));
      } else if (key == "max_sessions_per_user") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.max_sessions_per_user));
      } else if (key == "login_max_failures") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.login_max_failures));
      } else if (key == "login_failure_window_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.login_failure_window_seconds));
      } else if (key == "login_lockout_seconds") {
        RAMPART_RETURN_IF_ERROR(ReadPositive(v, key, &c.login_lockout_seconds));
      } else if (key == "detection") {
        RAMPART_RETURN_IF_ERROR(ApplyDetection(v, &c.detection));
      } else if (key == "incidents") {
        RAMPART_RETURN_IF_ERROR(ApplyIncidents(v, &c.incidents));
      } else if (key == "response") {
        RAMPART_RETURN_IF_ERROR(ApplyResponse(v, &c.response));
      } else if (key == "demo_staff") {
        RAMPART_RETURN_IF_ERROR(ReadNumber(v, key, &c.demo_staff));
      } else {
        return Status::InvalidArgument("config: unknown key '" + key + "'");
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("config: ") + e.what());
  }
  *config = std::move(c);
  return Status::Ok();
}

Status LoadConfigFile(const std::string& path, Config* config) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("config: cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ApplyConfigYaml(ss.str(), config);
}

Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  std::string h;
  std::string p;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("listen address must look like [::1]:8443");
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("listen address must look like HOST:PORT");
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5) {
    return Status::InvalidArgument("listen address must look like HOST:PORT");
  }
  uint32_t value = 0;
  for (char ch : p) {
    if (ch < '0' || ch > '9') return Status::InvalidArgument("port must be a number");
    value = value * 10 + static_cast<uint32_t>(ch - '0');
  }
  if (value > 65535) return Status::InvalidArgument("port must be at most 65535");
  *host = h;
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

}  // namespace rampart
