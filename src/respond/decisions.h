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
#include <vector>

#include "store/response_records.h"

namespace rampart::respond {

// Seconds as a Go duration string ("23h59m59s", "5m0s", "0s"), as bouncers parse it.
std::string GoDuration(int64_t seconds);
nlohmann::json DecisionJson(const store::AddressBlock& block, int64_t now);

// `rows`: with startup, the active blocks; otherwise the blocks changed since the bouncer's
// cursor. Active ones go to "new", removed or expired ones to "deleted". *max_seq receives the
// highest change_seq seen (unchanged when rows is empty).
nlohmann::json DecisionStream(const std::vector<store::AddressBlock>& rows, int64_t now,
                              int64_t* max_seq);

}  // namespace rampart::respond
