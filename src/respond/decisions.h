// Rampart's blocks in the shape of CrowdSec's Local API decisions stream
// (GET /v1/decisions/stream), so that existing CrowdSec bouncers (nginx, firewall) enforce them:
//
//   {"new": [{"id": 7, "origin": "rampart", "type": "ban", "scope": "Ip",
//             "value": "203.0.113.7", "duration": "23h59m12s", "scenario": "rampart/epmm-..."}],
//    "deleted": [...]}
//
// Pure functions; the route (api/blocks.cc) reads the store and keeps each bouncer's cursor.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "store/response_records.h"

namespace rampart::respond {

// A change at the front door that external enforcers must hear of (ActionEngine reports them to
// its block observer, in the order the store made them).
struct BlockChange {
  enum class Kind {
    kAdded,     // a new block
    kExtended,  // a block in force got a later expiry (the same block id)
    kRemoved,   // lifted by an admin
    kExpired,   // its time ran out
    // Another block of the same value is still in force after a removal or expiry: announced
    // again right after that unban, so a receiver that keys bans by value keeps the ban.
    kReissued,
  };
  Kind kind = Kind::kAdded;
  store::AddressBlock block;  // the row after the change
  int64_t at = 0;             // Unix seconds
};
bool IsBan(BlockChange::Kind kind);
std::string_view ToString(BlockChange::Kind kind);  // "added", "extended", ...

// The body POSTed to decision webhooks (docs/incident-response.md, "Decision webhooks"):
//
//   {"id": "dec_...", "type": "ban", "event": "added", "block_id": 7, "origin": "rampart",
//    "scope": "Ip", "value": "203.0.113.7", "scenario": "rampart/manual", "reason": "...",
//    "institution_id": null, "duration": "23h59m59s", "until": "2026-01-31T08:00:00Z",
//    "created_at": "2026-01-30T08:00:01Z"}
//
// "type" is "unban" (without duration and until) for kRemoved and kExpired. `id` names this one
// message (a receiver deduplicates retries by it); block_id is the CrowdSec decision id of
// /v1/decisions/stream.
nlohmann::json DecisionWebhookJson(const BlockChange& change, const std::string& id);

// Seconds as a Go duration string ("23h59m59s", "5m0s", "0s"), as bouncers parse it.
std::string GoDuration(int64_t seconds);
nlohmann::json DecisionJson(const store::AddressBlock& block, int64_t now);

// `rows`: with startup, the active blocks; otherwise the blocks changed since the bouncer's
// cursor. Active ones go to "new", removed or expired ones to "deleted". *max_seq receives the
// highest change_seq seen (unchanged when rows is empty).
nlohmann::json DecisionStream(const std::vector<store::AddressBlock>& rows, int64_t now,
                              int64_t* max_seq);

}  // namespace rampart::respond
