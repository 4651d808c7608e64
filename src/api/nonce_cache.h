// Replay protection for signed device requests: remembers (device, nonce) pairs until their
// window closes. Memory is bounded by the request rate times the window, not by the number of
// enrolled devices (an idle device holds nothing here).
//
// Thread-safe. A restart forgets seen nonces; the timestamp window still bounds a replay to
// requests signed within the last `device_clock_skew_seconds` (see docs/threat-model.md).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rampart::api {

class NonceCache {
 public:
  explicit NonceCache(int64_t window_seconds) : window_seconds_(window_seconds) {}
  // True the first time (device, nonce) is seen within the window; false for a replay.
  bool Remember(const std::string& device_id, const std::string& nonce, int64_t now);
  void Prune(int64_t now);
  size_t size() const;

 private:
  static constexpr int kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, int64_t> expiry;    // key: device_id + '/' + nonce
    std::deque<std::pair<int64_t, std::string>> order;  // (expiry, key), oldest first
  };
  void PruneLocked(Shard& shard, int64_t now);
  int64_t window_seconds_;
  Shard shards_[kShards];
};

}  // namespace rampart::api
