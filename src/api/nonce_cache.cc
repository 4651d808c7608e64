#include "api/nonce_cache.h"

#include <functional>

namespace rampart::api {

bool NonceCache::Remember(const std::string& device_id, const std::string& nonce, int64_t now) {
  std::string key = device_id + '/' + nonce;
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  PruneLocked(shard, now);
  auto [it, inserted] = shard.expiry.emplace(key, now + window_seconds_);
  if (!inserted) return false;
  shard.order.emplace_back(now + window_seconds_, std::move(key));
  return true;
}

void NonceCache::PruneLocked(Shard& shard, int64_t now) {
  while (!shard.order.empty() && shard.order.front().first < now) {
    shard.expiry.erase(shard.order.front().second);
    shard.order.pop_front();
  }
}

void NonceCache::Prune(int64_t now) {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    PruneLocked(shard, now);
  }
}

size_t NonceCache::size() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.expiry.size();
  }
  return n;
}

}  // namespace rampart::api
