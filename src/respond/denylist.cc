#include "respond/denylist.h"

#include <unordered_map>

#include "common/ip.h"

namespace rampart::respond {

namespace {

std::string Key(const IpAddress& ip) {
  return std::string(reinterpret_cast<const char*>(ip.bytes.data()), ip.bytes.size());
}

}  // namespace

struct Denylist::Snapshot {
  // Single addresses by their 16 mapped bytes, so the common case is one hash lookup.
  std::unordered_map<std::string, int64_t> addresses;  // bytes → expires_at
  std::vector<std::pair<IpNetwork, int64_t>> ranges;

  void Insert(const store::AddressBlock& block);
};

Result<BlockTarget> ParseBlockTarget(std::string_view text) {
  if (text.empty() || text.size() > 64)
    return Status::InvalidArgument("address is empty or too long");
  auto net = ParseCidr(text);
  if (!net) return Status::InvalidArgument("not an IP address or CIDR range");
  const bool has_slash = text.find('/') != std::string_view::npos;
  const bool v4 = net->base.v4;
  if (net->prefix == 128) return BlockTarget{FormatIp(net->base), "Ip", v4, v4 ? 32 : 128};
  if (has_slash) {
    // ParseCidr clears host bits; refuse text that had some set, it was meant as something else.
    auto given = ParseIp(text.substr(0, text.find('/')));
    if (!given || *given != net->base) {
      return Status::InvalidArgument("range has host bits set; use the network address");
    }
  }
  const int min_prefix = net->base.v4 ? 96 + 8 : 32;
  if (net->prefix < min_prefix) return Status::InvalidArgument("range is too wide to block");
  // IPv4 peers are held as ::ffff:a.b.c.d, so an IPv6 range over that prefix (::/32, say)
  // would match every IPv4 client at once.
  if (!net->base.v4 && net->Contains(*ParseIp("::ffff:0.0.0.0"))) {
    return Status::InvalidArgument("range covers every IPv4 address; block IPv4 ranges directly");
  }
  int shown = net->base.v4 ? net->prefix - 96 : net->prefix;
  return BlockTarget{FormatIp(net->base) + "/" + std::to_string(shown), "Range", v4, shown};
}

Status CheckInstitutionBlockWidth(const BlockTarget& target) {
  if (target.v4 && target.prefix < kInstitutionMinPrefixV4) {
    return Status::PermissionDenied(
        "an institution may block single addresses and IPv4 ranges up to a /24; wider ranges "
        "reach other institutions and need a superadmin");
  }
  if (!target.v4 && target.prefix < kInstitutionMinPrefixV6) {
    return Status::PermissionDenied(
        "an institution may block single addresses and IPv6 ranges up to a /64; wider ranges "
        "reach other institutions and need a superadmin");
  }
  return Status::Ok();
}

Result<std::vector<IpNetwork>> ParseNeverBlock(const std::vector<std::string>& entries) {
  std::vector<IpNetwork> nets;
  for (const std::string& entry : entries) {
    auto net = ParseCidr(entry);
    if (!net) {
      return Status::InvalidArgument("'" + entry + "' is not an IP address or CIDR range");
    }
    nets.push_back(*net);
  }
  return nets;
}

std::string NeverBlockOverlap(const BlockTarget& target, const std::vector<IpNetwork>& never_block,
                              const std::vector<std::string>& entries) {
  auto net = ParseCidr(target.value);
  if (!net) return "";
  // Two networks overlap exactly when one contains the other's base address.
  for (size_t i = 0; i < never_block.size() && i < entries.size(); ++i) {
    if (net->Contains(never_block[i].base) || never_block[i].Contains(net->base)) {
      return entries[i];
    }
  }
  return "";
}

Denylist::Denylist(const Clock* clock)
    : clock_(clock), snapshot_(std::make_shared<const Snapshot>()) {}

Denylist::~Denylist() = default;

bool Denylist::Admit(std::string_view remote_ip) const {
  std::shared_ptr<const Snapshot> snap = snapshot_.load(std::memory_order_acquire);
  if (snap->addresses.empty() && snap->ranges.empty()) return true;
  auto ip = ParseIp(remote_ip);
  if (!ip) return true;
  for (const IpNetwork& net : keep_open_) {
    if (net.Contains(*ip)) return true;
  }
  const int64_t now = clock_->NowSeconds();
  auto it = snap->addresses.find(Key(*ip));
  if (it != snap->addresses.end() && it->second > now) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  for (const auto& [net, expires] : snap->ranges) {
    if (expires > now && net.Contains(*ip)) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  return true;
}

void Denylist::Snapshot::Insert(const store::AddressBlock& block) {
  if (block.removed_at != 0) return;
  auto net = ParseCidr(block.value);
  if (!net) return;
  if (net->prefix == 128) {
    int64_t& e = addresses[Key(net->base)];
    e = std::max(e, block.expires_at);
  } else {
    ranges.emplace_back(*net, block.expires_at);
  }
}

void Denylist::Replace(const std::vector<store::AddressBlock>& blocks) {
  auto snap = std::make_shared<Snapshot>();
  for (const auto& b : blocks) snap->Insert(b);
  snapshot_.store(std::move(snap), std::memory_order_release);
}

void Denylist::Add(const store::AddressBlock& block) {
  auto snap = std::make_shared<Snapshot>(*snapshot_.load(std::memory_order_acquire));
  snap->Insert(block);
  snapshot_.store(std::move(snap), std::memory_order_release);
}

size_t Denylist::size() const {
  auto snap = snapshot_.load(std::memory_order_acquire);
  return snap->addresses.size() + snap->ranges.size();
}

}  // namespace rampart::respond
