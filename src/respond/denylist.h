// The front door's denylist: addresses and ranges whose connections HttpServer refuses before a
// byte is parsed (http::ServerOptions::admit).
//
// Read-mostly: Admit() runs on the accept path of every connection, so it reads an immutable
// snapshot through one atomic load and takes no lock; Replace() builds a new snapshot and swaps
// it in. The store is the record (AddressBlock rows); ActionEngine replaces the snapshot after
// each change, and serve reloads it at start.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ip.h"
#include "common/status.h"
#include "store/response_records.h"

namespace rampart::respond {

// A block value in canonical form and its CrowdSec scope: "203.0.113.7" → Ip, "203.0.113.0/24"
// → Range (host bits must be clear), "203.0.113.7/32" → Ip "203.0.113.7". InvalidArgument for
// anything else, and for ranges wider than /8 (IPv4) or /32 (IPv6): a typo there would lock
// out a continent.
struct BlockTarget {
  std::string value;
  std::string scope;  // "Ip" or "Range"
  bool v4 = true;
  int prefix = 32;  // as written: 0..32 for IPv4, 0..128 for IPv6 (32 / 128 for one address)
};
Result<BlockTarget> ParseBlockTarget(std::string_view text);

// The widest range a block owned by one institution may cover. The front door enforces every
// block for every connection, so a wider one would cut off other institutions' users and devices;
// only server-wide callers (superadmins, playbooks of server-wide alerts) may go wider.
inline constexpr int kInstitutionMinPrefixV4 = 24;
inline constexpr int kInstitutionMinPrefixV6 = 64;
// PermissionDenied when `target` is wider than an institution's block may be.
Status CheckInstitutionBlockWidth(const BlockTarget& target);

// The addresses no block may cover (`response.never_block`): a reverse proxy or health checker
// on the same host is the peer of every request it forwards, so a playbook that blocked it
// after one probe through it would refuse everyone behind it. Each entry is an address or a
// CIDR range; InvalidArgument names the first that is neither.
Result<std::vector<IpNetwork>> ParseNeverBlock(const std::vector<std::string>& entries);
// The entries `target` covers or lies in, as written; empty when it touches none.
std::string NeverBlockOverlap(const BlockTarget& target, const std::vector<IpNetwork>& never_block,
                              const std::vector<std::string>& entries);

class Denylist {
 public:
  explicit Denylist(const Clock* clock);
  ~Denylist();
  Denylist(const Denylist&) = delete;
  Denylist& operator=(const Denylist&) = delete;

  // False when `remote_ip` lies in a block that has not expired. An address that does not parse
  // is admitted (the server produced it; refusing it would refuse everyone on a format change),
  // and so is one of KeepOpen's.
  bool Admit(std::string_view remote_ip) const;
  // Addresses admitted whatever block covers them (response.never_block): blocks stored before
  // the list named them must not shut a local proxy either. Call before the denylist is shared
  // with other threads.
  void KeepOpen(std::vector<IpNetwork> networks) { keep_open_ = std::move(networks); }
  // Replaces the whole list; rows that are removed or whose value does not parse are skipped.
  void Replace(const std::vector<store::AddressBlock>& blocks);
  // Adds one block to the current list, as Replace would take it. Callers serialise Add and
  // Replace (ActionEngine does): each builds on the snapshot it reads.
  void Add(const store::AddressBlock& block);
  size_t size() const;
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Snapshot;
  const Clock* clock_;
  std::vector<IpNetwork> keep_open_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  mutable std::atomic<uint64_t> refused_{0};
};

}  // namespace rampart::respond
