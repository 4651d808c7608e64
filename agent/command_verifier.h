// The device's half of "devices obey only signed commands" (docs/protocol.md, "Signed
// commands"): which command key the device trusts, whether a delivered command may be executed,
// and how the trusted key moves along a rotation chain. Pure: no I/O, the caller passes the
// time, so every rule is unit-testable and the simulator can run it for thousands of devices
// (one Ed25519 verification and one SHA-256 per command).
//
//   agent::CommandTrust trust{{enrolled.command_key_id, enrolled.command_public_key}};
//   agent::FollowRotations(trust, institution_id, checkin.key_rotations);
//   for (const WireCommand& cmd : checkin.commands) {
//     if (auto why = agent::CheckCommand(trust, device_id, cmd, now)) {
//       report {"status": "rejected", "error": agent::ToString(*why)}; continue;
//     }
//     execute; agent::MarkExecuted(trust, cmd);
//   }
//
// Low watermark: the highest seq of a command that verified and was executed (settled with a
// final outcome). The server assigns seqs per device in strictly increasing order when it signs
// a command, and delivers in seq order; this agent never answers not_now, so every verified
// command it receives is settled at once. A verified command whose seq is at or below the
// watermark is therefore either a replay (its id is among the recently executed ones:
// "replayed") or older than something already executed ("out_of_order"); either is refused.
// Commands refused for any reason do not move the watermark: their seq is not authenticated.
// An agent that answers not_now must keep its watermark below the lowest seq it deferred.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/device_model.h"
#include "core/command_signing.h"

namespace rampart::agent {

// The command key the device trusts: pinned at enrollment, moved only by verified rotations.
struct CommandKeyPin {
  std::string key_id;
  std::string public_key;  // raw 32-byte Ed25519 public key
};

struct CommandTrust {
  CommandKeyPin pin;
  int64_t low_watermark = 0;
  std::deque<std::string> recent_ids;  // ids of the last kRecentCommandIds executed commands
};

inline constexpr size_t kRecentCommandIds = 64;

enum class Rejection {
  kUnsigned,         // no signature, or no key id
  kUnknownKey,       // signed with a key id the device has not pinned
  kBadSignature,     // does not verify with the pinned key over this device's signing string
  kPayloadMismatch,  // the signed payload hash is not the hash of the payload delivered
  kExpired,          // expires_at is not in the future by the device's own clock
  kReplayed,         // a command the device already executed
  kOutOfOrder,       // seq at or below the low watermark
};
// "unsigned", "unknown_key", "bad_signature", "payload_mismatch", "expired", "replayed",
// "out_of_order": the "error" the device reports with status "rejected".
std::string_view ToString(Rejection r);

// nullopt when the device may execute the command. Checks in the order of the enum.
std::optional<Rejection> CheckCommand(const CommandTrust& trust, const std::string& device_id,
                                      const WireCommand& command, int64_t now_seconds);

// Records a verified command as executed: raises the watermark, remembers the id.
void MarkExecuted(CommandTrust& trust, const WireCommand& command);

// One link of the rotation chain as delivered (signature raw, by the old key).
struct WireKeyRotation {
  core::KeyRotationFields fields;
  std::string signature;
};

// Walks the chain in order: a link is followed only when it starts at the currently pinned key,
// names the device's institution, carries a well-formed new key and its signature verifies with
// the pinned key; the pin then moves to the new key. Other links are ignored. Returns how many
// links were followed.
int FollowRotations(CommandTrust& trust, const std::string& institution_id,
                    const std::vector<WireKeyRotation>& rotations);

}  // namespace rampart::agent
