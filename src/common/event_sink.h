// Security events handed from the request path (and from other components) to the detection
// engine, without the producer knowing anything of the engine (Vectorscan and the rules stay in
// src/detect; only src/server wires a detect::LiveEngine in as the sink).
//
//   SecurityEvent ev("command.queued");
//   ev.Set("user.name", principal_id).Set("device.id", device_id).Set("command.type", "wipe");
//   sink->Emit(std::move(ev));
//
// Field names are ECS-style dotted names (docs/detection.md lists the ones the engine matches
// on: source.ip, url.path, user.name, device.id, staff.canary, ...). Unknown names are carried
// but not matched. Values must never hold a secret (a token, a key) or staff personal data
// (names, numbers, e-mail addresses): events end up in stored alerts and in sinks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart {

struct SecurityEvent {
  SecurityEvent() = default;
  explicit SecurityEvent(std::string_view action) { Set("event.action", action); }

  // Adds or replaces one field.
  SecurityEvent& Set(std::string_view name, std::string_view value) {
    for (auto& [k, v] : fields) {
      if (k == name) {
        v.assign(value);
        return *this;
      }
    }
    fields.emplace_back(std::string(name), std::string(value));
    return *this;
  }
  // The value, or "" when absent.
  std::string_view Get(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return v;
    }
    return {};
  }

  // Milliseconds since the Unix epoch; 0 lets the engine stamp it when it takes the event.
  int64_t timestamp_millis = 0;
  // The institution the event belongs to ("" when none, e.g. an unauthenticated request):
  // alerts about it are visible to that institution's roles, else only server-wide.
  std::string institution_id;
  // Whose doing it is: the institution of the signed-in principal that caused the event; ""
  // for an unauthenticated client, a server-wide principal or an outside source. Correlation
  // windows are kept per actor institution, so that one institution's staff never share a
  // window with another's (two offices behind one address), while an attacker who is none of
  // them (a password sprayer, a stolen server-wide token) is counted across every institution
  // it touches.
  std::string actor_institution_id;
  std::vector<std::pair<std::string, std::string>> fields;
};

// Where events go. Implementations must be thread-safe and must not block the caller: a sink
// that cannot take an event now drops it and counts the drop.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(SecurityEvent event) = 0;
  // For a producer that can wait (a followed file, whose lines stay on disk): takes the event
  // and returns true, or returns false with `event` untouched and nothing counted when the
  // sink cannot take it now, so that the producer tries again later instead of losing it.
  virtual bool TryEmit(SecurityEvent& event) {
    Emit(std::move(event));
    return true;
  }
  // Events lost before they reached the sink (a socket buffer the kernel overflowed): counted
  // with the sink's own drops, and reported the same way.
  virtual void ReportLost(uint64_t count) { (void)count; }
};

}  // namespace rampart
