#include "detect/event.h"

#include <cstring>
#include <unordered_map>

#include "common/crypto.h"
#include "common/text.h"
#include "detect/url_path.h"

namespace rampart::detect {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "source.ip",
    "url.original",
    "url.path",
    "url.query",
    "url.extension",
    "http.request.method",
    "http.response.status_code",
    "http.response.body.bytes",
    "user_agent.original",
    "user.name",
    "event.action",
    "host.name",
    "http.request.referrer",
    "destination.domain",
    "destination.ip",
    "http.request.cookie",
    "http.request.mime_type",
    "http.request.x_forwarded_for",
    "event.original",
    "http.request.id",
    "event.duration",
    "organization.id",
    "device.id",
    "staff.id",
    "staff.canary",
    "command.type",
    "file.path",
    "file.extension",
    "file.hash.sha256",
    "file.size",
    "file.mode",
    "file.in_baseline",
    "file.hash.md5",
    "file.hash.sha1",
    "file.previous.sha256",
    "command.id",
    "command.count",
    "command.created_by",
    "user.roles",
    "event.reason",
    "http.violation.reason",
    "compliance.state",
    "tls.client.subject",
    "log.source.address",
    "network.transport",
    "message",
    "process.name",
    "log.syslog.severity.code",
    "log.syslog.facility.code",
    "log.syslog.msgid",
};

}  // namespace

std::string_view FieldName(Field field) {
  auto i = static_cast<size_t>(field);
  return i < kFieldCount ? kFieldNames[i] : std::string_view("unknown");
}

std::optional<Field> FieldFromName(std::string_view name) {
  // JSON log lines look each of their keys up here.
  static const std::unordered_map<std::string_view, Field> kByName = [] {
    std::unordered_map<std::string_view, Field> m;
    for (size_t i = 0; i < kFieldCount; ++i) m.emplace(kFieldNames[i], static_cast<Field>(i));
    return m;
  }();
  auto it = kByName.find(name);
  return it == kByName.end() ? std::nullopt : std::optional<Field>(it->second);
}

std::string_view Event::Keep(std::string_view s) {
  if (scratch_.size() + s.size() <= scratch_.capacity()) {
    size_t at = scratch_.size();
    scratch_.append(s);
    return std::string_view(scratch_.data() + at, s.size());
  }
  // Growing scratch_ would move the values already stored in it.
  auto chunk = std::make_unique<char[]>(s.size() + 1);
  std::memcpy(chunk.get(), s.data(), s.size());
  std::string_view view(chunk.get(), s.size());
  overflow_.push_back(std::move(chunk));
  return view;
}

void Event::SetCopy(Field f, std::string_view value) {
  Set(f, Keep(value));
}

void Event::DecodeField(Field f) {
  auto i = static_cast<size_t>(f);
  std::string_view raw = Get(f);
  if (!NeedsPercentDecode(raw)) return;
  // Decode straight into scratch when it fits, to avoid a temporary.
  if (scratch_.size() + raw.size() <= scratch_.capacity()) {
    size_t at = scratch_.size();
    PercentDecodeAppend(raw, &scratch_);
    std::string_view out(scratch_.data() + at, scratch_.size() - at);
    if (out != raw) {
      decoded_[i] = out;
      decoded_mask_ |= uint64_t{1} << i;
    } else {
      scratch_.resize(at);
    }
    return;
  }
  std::string tmp;
  PercentDecodeAppend(raw, &tmp);
  if (tmp != raw) {
    decoded_[i] = Keep(tmp);
    decoded_mask_ |= uint64_t{1} << i;
  }
}

void Event::ResolvePath() {
  has_resolved_path_ = false;
  if (!Has(Field::kUrlPath)) return;
  std::string_view path = Decoded(Field::kUrlPath);
  if (!UrlPathMayResolve(path)) return;
  thread_local std::string resolved;
  ResolveUrlPath(path, &resolved,
                 /*cut_parameters=*/Get(Field::kUrlPath).find(';') != std::string_view::npos);
  if (resolved == path || resolved == Get(Field::kUrlPath)) return;
  resolved_path_ = Keep(resolved);
  has_resolved_path_ = true;
}

void PercentDecodeAppend(std::string_view in, std::string* out) {
  size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < n) {
      int hi = crypto::HexDigitValue(in[i + 1]);
      int lo = crypto::HexDigitValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out->push_back(c);
  }
}

bool IsRampartAction(std::string_view action) {
  // Rules compare without case unless they say `cased`: "Staff.Decrypt" must count too.
  // Compared byte by byte, without a lower-cased copy: the live engine asks per event.
  auto starts = [&](std::string_view lower_prefix) {
    if (action.size() < lower_prefix.size()) return false;
    for (size_t i = 0; i < lower_prefix.size(); ++i) {
      if (AsciiLower(action[i]) != lower_prefix[i]) return false;
    }
    return true;
  };
  static constexpr std::string_view kNamespaces[] = {"auth.", "command.",   "device.",   "staff.",
                                                     "file.", "detection.", "response.", "admin."};
  for (std::string_view ns : kNamespaces) {
    if (starts(ns)) return true;
  }
  for (std::string_view exact :
       {std::string_view("http.request"), std::string_view("http.violation")}) {
    if (action.size() == exact.size() && starts(exact)) return true;
  }
  return false;
}

SecurityEvent ExternalSecurityEvent(const Event& ev) {
  SecurityEvent out = ToSecurityEvent(ev);
  for (auto& [name, value] : out.fields) {
    if (name == "event.action" && IsRampartAction(value)) value = "external." + value;
  }
  return out;
}

SecurityEvent ToSecurityEvent(const Event& ev) {
  SecurityEvent out;
  out.fields.reserve(kFieldCount);
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    if (ev.Has(f)) out.fields.emplace_back(std::string(kFieldNames[i]), std::string(ev.Get(f)));
  }
  out.timestamp_millis = ev.timestamp_millis();
  return out;
}

}  // namespace rampart::detect
