#include "detect/ioc.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>

#include "common/text.h"
#include "core/alert.h"
#include "detect/log_parser.h"

namespace rampart::detect {

namespace internal {

size_t SchemeSeparator(std::string_view s, size_t limit) {
  for (size_t i = 0; i < limit && i + 3 <= s.size(); ++i) {
    if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') return i;
  }
  return std::string_view::npos;
}

}  // namespace internal

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "Example.ORG." → "example.org"; rejects anything that is not a DNS name.
bool NormaliseDomain(std::string_view in, std::string* out) {
  in = Trim(in);
  if (in.starts_with("*.")) in.remove_prefix(2);
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.empty() || in.size() > 253) return false;
  out->clear();
  for (char c : in) {
    char l = AsciiLower(c);
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '.' || l == '_';
    if (!ok) return false;
    out->push_back(l);
  }
  return true;
}

// The URL without surrounding blanks, fragment and scheme: what NormaliseUrlInto keeps.
std::string_view UrlWithoutSchemeAndFragment(std::string_view in) {
  in = Trim(in);
  size_t hash = in.find('#');
  if (hash != std::string_view::npos) in = in.substr(0, hash);
  // A scheme is short: only the start is searched, not every path seen.
  size_t scheme = internal::SchemeSeparator(in, 10);
  if (scheme != std::string_view::npos) in = in.substr(scheme + 3);
  return in;
}

// Byte classes for the loops that walk hosts: one table load per byte, where
// string_view::find_first_of calls memchr once per byte.
enum : uint8_t { kEndsHost = 1, kEndsHostOrFragment = 2, kNotPlainHost = 4 };
constexpr std::array<uint8_t, 256> kUrlBytes = [] {
  std::array<uint8_t, 256> t{};
  for (unsigned char c : std::string_view("/?")) t[c] |= kEndsHost;
  for (unsigned char c : std::string_view("/?#")) t[c] |= kEndsHostOrFragment;
  for (unsigned char c : std::string_view(" \t\r#/?:")) t[c] |= kNotPlainHost;
  return t;
}();

size_t FindByteOfClass(std::string_view in, uint8_t cls) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (kUrlBytes[static_cast<unsigned char>(in[i])] & cls) return i;
  }
  return std::string_view::npos;
}

// Where the host part of a URL without scheme ends: the first '/' or '?' (npos when none).
size_t HostEnd(std::string_view in) {
  return FindByteOfClass(in, kEndsHost);
}

// The host without its port: an indicator names the resource, which a log may show on another
// port or none ("https://h:8443/x" in the feed, "h:8443 ... GET /x" with the port cut in an
// EPMM log, "http://h:80/x" in a proxy's). A bare IPv6 address (several ':') is left alone.
std::string_view WithoutPort(std::string_view host) {
  size_t colon = host.rfind(':');
  // (":80" alone is no host: cutting it would leave a path-only indicator matching any host.)
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == host.size()) return host;
  for (size_t i = colon + 1; i < host.size(); ++i) {
    if (host[i] < '0' || host[i] > '9') return host;
  }
  const bool bracketed = host[0] == '[' && colon > 0 && host[colon - 1] == ']';
  if (!bracketed && host.find(':') != colon) return host;
  return host.substr(0, colon);
}

// The host without user info ("user:pw@h" → "h"): credentials in a URL do not change the
// resource it names, and a request can add them to dodge an indicator.
std::string_view WithoutUserInfo(std::string_view host) {
  size_t at = host.rfind('@');
  // ("u@" alone is no host: cutting it would leave a path-only indicator matching any host.)
  return at == std::string_view::npos || at + 1 == host.size() ? host : host.substr(at + 1);
}

// The host part of NormaliseUrlInto's result, not lower-cased ("" for a path-only URL).
std::string_view NormalisedUrlHost(std::string_view in) {
  // Most URLs looked up are request paths: no fragment or scheme search needed for those.
  if (!in.empty() && in[0] == '/') return {};
  in = UrlWithoutSchemeAndFragment(in);
  if (!in.empty() && in[0] == '/') return {};
  return WithoutPort(WithoutUserInfo(in.substr(0, HostEnd(in))));
}

// Drops the scheme, fragment, user info and port and lower-cases the host:
// "HTTPS://u@Evil.Example:443/A?b" → "evil.example/A?b". A path-only value ("/mifs/403.jsp")
// stays as it is. Writes into *out so that lookups can reuse one buffer per thread.
void NormaliseUrlInto(std::string_view in, std::string* out) {
  out->clear();
  in = UrlWithoutSchemeAndFragment(in);
  if (!in.empty() && in[0] == '/') {
    out->assign(in);
    return;
  }
  size_t slash = HostEnd(in);
  std::string_view host = WithoutPort(WithoutUserInfo(in.substr(0, slash)));
  for (char c : host) out->push_back(AsciiLower(c));
  if (slash == std::string_view::npos) {
    out->push_back('/');
  } else {
    if (in[slash] == '?') out->push_back('/');
    out->append(in.substr(slash));
  }
}

std::string NormaliseUrl(std::string_view in) {
  std::string out;
  NormaliseUrlInto(in, &out);
  return out;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Host of an absolute URL ("https://a.example:8443/x" → "a.example"), or empty.
// A URL's host read as an IPv4 address in any form a client reads (ParseUrlHostIpv4), but
// not in 0.0.0.0/8: "this network" is no server a client reaches, and a small number there is
// a port or an id ("redis://6379") rather than an address.
std::optional<IpAddress> UrlHostAddress(std::string_view host) {
  std::optional<IpAddress> ip = ParseUrlHostIpv4(host);
  if (ip && ip->bytes[12] == 0) return std::nullopt;
  return ip;
}

std::string_view UrlHost(std::string_view url) {
  size_t scheme = internal::SchemeSeparator(url, 11);
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, FindByteOfClass(rest, kEndsHostOrFragment));
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.find(':'));
}

// True when `domain` followed by a path is read by NormalisedUrlHost as having the host
// `domain`: nothing in it is trimmed, cut as a fragment, ends the host or starts a scheme, and
// it is too long for a "://" in the path to fall where a scheme is looked for (before byte 10).
bool IsPlainUrlHost(std::string_view domain) {
  return domain.size() >= 9 && FindByteOfClass(domain, kNotPlainHost) == std::string_view::npos;
}

std::atomic<uint64_t> next_generation{1};

uint64_t NewGeneration() {
  return next_generation.fetch_add(1, std::memory_order_relaxed);
}

// Per thread: hosts lately found to match no indicator of a store generation. A lookup that
// reached no table entry at all is a "no" at any time, so it may be remembered; one that found
// an expired entry is not remembered. Round-robin over a few entries: the hosts that repeat on
// every line stay, and a miss costs a few compares.
class MissMemo {
 public:
  // kHostAndPath: a virtual host that rules out every URL made of it and a path.
  enum Kind : uint8_t { kDomain = 1, kUrlHost = 2, kHostAndPath = 3 };

  bool Has(uint64_t generation, Kind kind, std::string_view key) const {
    if (key.size() > kMaxKey) return false;
    uint64_t tag = Tag(generation, kind, key.size());
    // The same host comes back line after line: the entry that answered last is tried first.
    const Entry& last = entries_[last_hit_[kind]];
    if (last.tag == tag && SameKey(last.key, key)) return true;
    for (unsigned i = 0; i < kEntries; ++i) {
      if (entries_[i].tag == tag && SameKey(entries_[i].key, key)) {
        last_hit_[kind] = static_cast<uint8_t>(i);
        return true;
      }
    }
    return false;
  }

  void Add(uint64_t generation, Kind kind, std::string_view key) {
    if (key.size() > kMaxKey) return;
    Entry& e = entries_[next_++ % kEntries];
    e.tag = Tag(generation, kind, key.size());
    std::memcpy(e.key, key.data(), key.size());
  }

 private:
  static constexpr size_t kEntries = 8;
  static constexpr size_t kMaxKey = 56;
  struct Entry {
    uint64_t tag;  // 0 (generation 0 is never issued): empty
    char key[kMaxKey];
  };

  // Generations count Adds and stores; 48 bits outlast any process.
  static uint64_t Tag(uint64_t generation, Kind kind, size_t size) {
    return generation << 16 | uint64_t{kind} << 8 | size;
  }

  // The sizes are known equal. Eight bytes at a time, the last eight overlapping the others.
  static bool SameKey(const char* a, std::string_view b) {
    size_t n = b.size();
    const char* p = b.data();
    if (n < 8) return std::memcmp(a, p, n) == 0;
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, p + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, p + n - 8, 8);
    return x == y;
  }

  Entry entries_[kEntries];
  unsigned next_;
  // Per kind, the entry of the last "yes"; only a hint, so a stale one costs one compare.
  mutable uint8_t last_hit_[4];
};

// Zero-initialised, so no guard on each access.
thread_local MissMemo miss_memo;

}  // namespace

std::string_view IocTypeName(IocType type) {
  switch (type) {
    case IocType::kIp:
      return "ip";
    case IocType::kDomain:
      return "domain";
    case IocType::kUrl:
      return "url";
    case IocType::kHash:
      return "hash";
    case IocType::kUserAgent:
      return "user-agent";
  }
  return "unknown";
}

size_t IocStore::IpHash::operator()(const IpAddress& ip) const {
  uint64_t a, b;
  std::memcpy(&a, ip.bytes.data(), 8);
  std::memcpy(&b, ip.bytes.data() + 8, 8);
  return std::hash<uint64_t>{}(a * 0x9e3779b97f4a7c15ULL ^ b);
}

std::pair<uint32_t*, bool> IocStore::StringIndex::Insert(const std::string& key) {
  auto [it, fresh] = map_.try_emplace(key, 0);
  if (fresh) filter_.Add(key);
  return {&it->second, fresh};
}

const uint32_t* IocStore::StringIndex::Find(std::string_view key) const {
  if (!filter_.MayContain(key)) return nullptr;
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

IocStore::IocStore() : generation_(NewGeneration()) {}
IocStore::~IocStore() = default;

namespace {

// Adds a technique id once, keeping the order the feed named them in.
void AddTechnique(std::string_view id, std::vector<std::string>* attack) {
  if (std::find(attack->begin(), attack->end(), id) == attack->end()) attack->emplace_back(id);
}

}  // namespace

bool IsAttackTechniqueId(std::string_view id) {
  auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (id.size() != 5 && id.size() != 9) return false;
  if (id[0] != 'T' || !digits(id.substr(1, 4))) return false;
  return id.size() == 5 || (id[5] == '.' && digits(id.substr(6)));
}

void IocStore::Upsert(uint32_t* slot, bool fresh, Ioc ioc) {
  if (fresh) {
    *slot = static_cast<uint32_t>(entries_.size());
    entries_.push_back(std::make_unique<Ioc>(std::move(ioc)));
    return;
  }
  Ioc& old = *entries_[*slot];
  bool later = ioc.expires_millis == 0 ||
               (old.expires_millis != 0 && ioc.expires_millis > old.expires_millis);
  if (later) old.expires_millis = ioc.expires_millis;
  old.source = std::move(ioc.source);
  // Two feeds naming one indicator: the alert is as bad as the worse says, with every
  // technique either gives.
  if (core::SeverityRank(ioc.severity) > core::SeverityRank(old.severity)) {
    old.severity = ioc.severity;
  }
  for (const std::string& t : ioc.attack) AddTechnique(t, &old.attack);
}

Status IocStore::Add(IocType type, std::string_view value, std::string_view source,
                     int64_t expires_millis, const IocContext& context) {
  Ioc ioc{type, "", std::string(source), expires_millis, "high", {}};
  if (!context.severity.empty()) {
    if (!core::IsAlertSeverity(context.severity)) {
      return Status::InvalidArgument(
          "severity '" + TerminalSafe(std::string_view(context.severity).substr(0, 40)) +
          "' is not critical, high, medium, low or informational");
    }
    ioc.severity = context.severity;
  }
  for (const std::string& t : context.attack) {
    if (!IsAttackTechniqueId(t)) {
      return Status::InvalidArgument("attack '" + TerminalSafe(std::string_view(t).substr(0, 40)) +
                                     "' is not an ATT&CK technique id (T1190, T1059.004)");
    }
    AddTechnique(t, &ioc.attack);
  }
  generation_ = NewGeneration();
  value = Trim(value);
  switch (type) {
    case IocType::kIp: {
      auto net = ParseCidr(value);
      if (!net) return Status::InvalidArgument("not an IP address or CIDR network");
      int shown = net->base.v4 ? net->prefix - 96 : net->prefix;
      ioc.value = FormatIp(net->base);
      if (shown != (net->base.v4 ? 32 : 128)) ioc.value += "/" + std::to_string(shown);
      CoverIpv4(*net);
      if (!net->base.v4) has_ipv6_network_ = true;
      auto [it, fresh] = networks_[net->prefix].try_emplace(net->base, 0);
      Upsert(&it->second, fresh, std::move(ioc));
      return Status::Ok();
    }
    case IocType::kDomain: {
      if (!NormaliseDomain(value, &ioc.value)) return Status::InvalidArgument("not a domain name");
      auto [slot, fresh] = domains_.Insert(ioc.value);
      Upsert(slot, fresh, std::move(ioc));
      return Status::Ok();
    }
    case IocType::kUrl: {
      ioc.value = NormaliseUrl(value);
      if (ioc.value.empty() || ioc.value == "/") return Status::InvalidArgument("empty URL");
      std::string host = ioc.value.substr(0, ioc.value.find('/'));
      if (host.empty()) has_path_only_url_ = true;
      url_hosts_.Insert(host);
      auto [slot, fresh] = urls_.Insert(ioc.value);
      Upsert(slot, fresh, std::move(ioc));
      return Status::Ok();
    }
    case IocType::kHash: {
      if (!IsHex(value) || (value.size() != 32 && value.size() != 40 && value.size() != 64)) {
        return Status::InvalidArgument("not an MD5, SHA-1 or SHA-256 hex digest");
      }
      ioc.value = AsciiLower(value);
      auto [slot, fresh] = hashes_.Insert(ioc.value);
      Upsert(slot, fresh, std::move(ioc));
      return Status::Ok();
    }
    case IocType::kUserAgent: {
      if (value.empty()) return Status::InvalidArgument("empty user agent");
      ioc.value = std::string(value);
      auto [slot, fresh] = agents_.Insert(ioc.value);
      Upsert(slot, fresh, std::move(ioc));
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown indicator type");
}

const Ioc* IocStore::Live(uint32_t idx, int64_t now_millis) const {
  const Ioc* ioc = entries_[idx].get();
  if (ioc->expires_millis != 0 && now_millis >= ioc->expires_millis) return nullptr;
  return ioc;
}

const Ioc* IocStore::FindIn(const StringIndex& index, std::string_view key,
                            int64_t now_millis) const {
  const uint32_t* slot = index.Find(key);
  return slot == nullptr ? nullptr : Live(*slot, now_millis);
}

namespace {

// Sets bits [first, first + count): a wide network (a /8 covers 65,536 /24s) a word at a time.
void SetBits(std::vector<uint64_t>* bits, uint64_t first, uint64_t count) {
  uint64_t end = first + count;
  for (; first < end && first % 64 != 0; ++first) {
    (*bits)[first / 64] |= uint64_t{1} << (first % 64);
  }
  for (; end - first >= 64; first += 64) (*bits)[first / 64] = ~uint64_t{0};
  for (; first < end; ++first) (*bits)[first / 64] |= uint64_t{1} << (first % 64);
}

}  // namespace

void IocStore::CoverIpv4(const IpNetwork& net) {
  // IPv6 networks never match IPv4 addresses (the address family is part of the key), so
  // only IPv4 networks go into the bitmap.
  if (!net.base.v4) return;
  if (v4_slash24_.empty()) v4_slash24_.assign((size_t{1} << 24) / 64, 0);
  if (v4_slash16_.empty()) v4_slash16_.assign((size_t{1} << 16) / 64, 0);
  uint32_t first = (uint32_t{net.base.bytes[12]} << 16) | (uint32_t{net.base.bytes[13]} << 8) |
                   net.base.bytes[14];
  int prefix = net.prefix - 96;
  SetBits(&v4_slash24_, first, prefix >= 24 ? 1 : uint64_t{1} << (24 - prefix));
  SetBits(&v4_slash16_, first >> 8, prefix >= 16 ? 1 : uint64_t{1} << (16 - prefix));
}

namespace {

// Reads "d.", "dd." or "ddd." at *p as ParseIp reads an octet (no leading zero, at most 255),
// moving *p past the dot. False, with *p unchanged, for anything else.
[[gnu::always_inline]] inline bool ReadOctetAndDot(const char** p, const char* end,
                                                   uint32_t* value) {
  const char* s = *p;
  if (end - s < 2) return false;
  unsigned d0 = static_cast<unsigned char>(s[0]) - '0';
  unsigned d1 = static_cast<unsigned char>(s[1]) - '0';
  if (d0 > 9) return false;
  if (d1 > 9) {
    if (s[1] != '.') return false;
    *value = d0;
    *p = s + 2;
    return true;
  }
  if (d0 == 0 || end - s < 3) return false;
  unsigned d2 = static_cast<unsigned char>(s[2]) - '0';
  if (d2 > 9) {
    if (s[2] != '.') return false;
    *value = d0 * 10 + d1;
    *p = s + 3;
    return true;
  }
  unsigned v = d0 * 100 + d1 * 10 + d2;
  if (end - s < 4 || s[3] != '.' || v > 255) return false;
  *value = v;
  *p = s + 4;
  return true;
}

}  // namespace

bool IocStore::Ipv4PrefixUnlisted(std::string_view text) const {
  const char* p = text.data();
  const char* end = p + text.size();
  uint32_t a, b, c;
  if (!ReadOctetAndDot(&p, end, &a) || !ReadOctetAndDot(&p, end, &b)) return false;
  if (v4_slash16_.empty()) return true;
  uint32_t slash16 = a << 8 | b;
  if (!(v4_slash16_[slash16 / 64] >> (slash16 % 64) & 1u)) return true;
  if (!ReadOctetAndDot(&p, end, &c)) return false;
  uint32_t slash24 = slash16 << 8 | c;
  return !(v4_slash24_[slash24 / 64] >> (slash24 % 64) & 1u);
}

const Ioc* IocStore::FindIp(const IpAddress& ip, int64_t now_millis) const {
  if (ip.v4) {
    if (v4_slash24_.empty()) return nullptr;
    uint32_t slash16 = (uint32_t{ip.bytes[12]} << 8) | ip.bytes[13];
    if (!(v4_slash16_[slash16 / 64] >> (slash16 % 64) & 1u)) return nullptr;
    uint32_t slash24 =
        (uint32_t{ip.bytes[12]} << 16) | (uint32_t{ip.bytes[13]} << 8) | ip.bytes[14];
    if (!(v4_slash24_[slash24 / 64] >> (slash24 % 64) & 1u)) return nullptr;
  }
  for (const auto& [prefix, table] : networks_) {
    IpAddress masked = ip;
    for (int bit = prefix; bit < 128; ++bit) {
      if (bit % 8 == 0) {
        std::memset(masked.bytes.data() + bit / 8, 0, 16 - bit / 8);
        break;
      }
      masked.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    }
    auto it = table.find(masked);
    if (it == table.end()) continue;
    if (const Ioc* ioc = Live(it->second, now_millis)) return ioc;
  }
  return nullptr;
}

const Ioc* IocStore::FindDomain(std::string_view host, int64_t now_millis) const {
  if (domains_.empty() || host.empty() || host.size() > 253) return nullptr;
  if (miss_memo.Has(generation_, MissMemo::kDomain, host)) return nullptr;
  return FindDomainInTable(host, now_millis);
}

const Ioc* IocStore::FindDomainInTable(std::string_view host, int64_t now_millis) const {
  char buf[256];
  size_t n = host.size();
  for (size_t i = 0; i < n; ++i) buf[i] = AsciiLower(host[i]);
  if (buf[n - 1] == '.') --n;
  std::string_view name(buf, n);
  bool listed = false;
  // The name itself, then each parent: a.b.example → b.example → example.
  while (!name.empty()) {
    if (const uint32_t* slot = domains_.Find(name)) {
      listed = true;
      if (const Ioc* ioc = Live(*slot, now_millis)) return ioc;
    }
    size_t dot = name.find('.');
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  if (!listed) miss_memo.Add(generation_, MissMemo::kDomain, host);
  return nullptr;
}

bool IocStore::UrlHostMayMatch(std::string_view host) const {
  if (host.empty()) return has_path_only_url_;
  // Longer hosts are not worth a buffer: the URL table answers for them.
  if (host.size() > 256) return true;
  if (miss_memo.Has(generation_, MissMemo::kUrlHost, host)) return false;
  return UrlHostInTable(host);
}

bool IocStore::UrlHostInTable(std::string_view host) const {
  char buf[256];
  for (size_t i = 0; i < host.size(); ++i) buf[i] = AsciiLower(host[i]);
  if (url_hosts_.Find(std::string_view(buf, host.size())) != nullptr) return true;
  miss_memo.Add(generation_, MissMemo::kUrlHost, host);
  return false;
}

const Ioc* IocStore::FindUrl(std::string_view url, int64_t now_millis) const {
  if (urls_.empty()) return nullptr;
  // Most URLs seen have a host no indicator names: one short lookup rules them out before the
  // whole URL is normalised and hashed.
  if (!UrlHostMayMatch(NormalisedUrlHost(url))) return nullptr;
  thread_local std::string key;
  NormaliseUrlInto(url, &key);
  return FindIn(urls_, key, now_millis);
}

const Ioc* IocStore::FindHostAndPath(std::string_view domain, std::string_view target,
                                     int64_t now_millis) const {
  // The host alone rules most requests out, without building the URL.
  if (miss_memo.Has(generation_, MissMemo::kHostAndPath, domain)) return nullptr;
  if (IsPlainUrlHost(domain) && !UrlHostMayMatch(domain)) {
    miss_memo.Add(generation_, MissMemo::kHostAndPath, domain);
    return nullptr;
  }
  thread_local std::string full;
  // An IPv6 virtual host (two colons at least; "host:port" has one) comes without the brackets
  // a URL gives it.
  const bool ipv6 = !domain.starts_with('[') && std::count(domain.begin(), domain.end(), ':') >= 2;
  full.assign(ipv6 ? "[" : "");
  full.append(domain);
  if (ipv6) full.push_back(']');
  full.append(target);
  return FindUrl(full, now_millis);
}

const Ioc* IocStore::FindHash(std::string_view hex, int64_t now_millis) const {
  if (hashes_.empty() || hex.size() > 64) return nullptr;
  return FindIn(hashes_, AsciiLower(hex), now_millis);
}

const Ioc* IocStore::FindUserAgent(std::string_view agent, int64_t now_millis) const {
  if (agents_.empty()) return nullptr;
  return FindIn(agents_, agent, now_millis);
}

void IocStore::MatchEvent(const Event& ev, int64_t now_millis, std::vector<IocMatch>* out) const {
  out->clear();
  if (entries_.empty()) return;
  auto add = [&](const Ioc* ioc, Field f) {
    if (ioc == nullptr) return;
    for (const auto& m : *out) {
      if (m.ioc == ioc) return;
    }
    out->push_back({ioc, f});
  };
  if (!networks_.empty()) {
    for (Field f : {Field::kSourceIp, Field::kDestinationIp, Field::kDestinationDomain}) {
      if (!ev.Has(f)) continue;
      std::string_view text = ev.Get(f);
      if (text.empty() || Ipv4PrefixUnlisted(text)) continue;
      // ParseIp takes only these first bytes: a host name is ruled out without a call.
      char c = text[0];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
            c == ':' || c == '[')) {
        continue;
      }
      if (auto ip = ParseIp(text)) add(FindIp(*ip, now_millis), f);
    }
  }
  if (!domains_.empty() && ev.Has(Field::kDestinationDomain)) {
    add(FindDomain(ev.Get(Field::kDestinationDomain), now_millis), Field::kDestinationDomain);
  }
  if ((!domains_.empty() || !networks_.empty()) && ev.Has(Field::kHttpRequestReferrer)) {
    // The page the client came from, on a listed server: by name, or by address in any form a
    // browser reads ("http://198.51.100.9/", "http://[2001:db8::9]/", "http://3332301833/").
    const std::string_view host = UrlHost(ev.Get(Field::kHttpRequestReferrer));
    if (!domains_.empty()) add(FindDomain(host, now_millis), Field::kHttpRequestReferrer);
    if (!networks_.empty() && !host.empty() &&
        ((host[0] >= '0' && host[0] <= '9') || host[0] == '[')) {
      std::optional<IpAddress> ip = host[0] == '[' ? ParseIp(host) : UrlHostAddress(host);
      if (ip) add(FindIp(*ip, now_millis), Field::kHttpRequestReferrer);
    }
  }
  if (!urls_.empty() && ev.Has(Field::kUrlOriginal)) {
    std::string_view target = ev.Get(Field::kUrlOriginal);
    // The target as sent, then without its query: an indicator without one names the resource
    // whatever parameters a request gives it ("/mifs/403.jsp" and "/mifs/403.jsp?k=...").
    const size_t query = target.find('?');
    for (std::string_view form :
         {target, query == std::string_view::npos ? std::string_view() : target.substr(0, query)}) {
      if (form.empty()) continue;
      // A bare path ("/mifs/x") can match only a path-only indicator (FindUrl's host test).
      if (!form.starts_with('/') || has_path_only_url_) {
        add(FindUrl(form, now_millis), Field::kUrlOriginal);
      }
      if (form[0] == '/' && ev.Has(Field::kDestinationDomain)) {
        add(FindHostAndPath(ev.Get(Field::kDestinationDomain), form, now_millis),
            Field::kUrlOriginal);
      }
    }
    if (ev.Has(Field::kHttpRequestReferrer)) {
      add(FindUrl(ev.Get(Field::kHttpRequestReferrer), now_millis), Field::kHttpRequestReferrer);
    }
  }
  if (!hashes_.empty()) {
    for (Field f : {Field::kFileHashSha256, Field::kFileHashMd5, Field::kFileHashSha1}) {
      if (ev.Has(f)) add(FindHash(ev.Get(f), now_millis), f);
    }
  }
  if (ev.Has(Field::kUserAgentOriginal)) {
    add(FindUserAgent(ev.Get(Field::kUserAgentOriginal), now_millis), Field::kUserAgentOriginal);
  }
}

namespace {

bool IsHostByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Bytes that end a URL written inside text: white space, quotes, brackets and the shell's
// separators ("curl http://x/a.sh|sh", "`wget http://x/a`").
bool EndsEmbeddedUrl(char c) {
  return static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\'' || c == '`' || c == '|' ||
         c == ';' || c == '&' || c == '<' || c == '>' || c == '(' || c == ')' || c == '[' ||
         c == ']' || c == '{' || c == '}' || c == '\\' || c == ',' || c == '$';
}

// A run of host bytes read as a domain name: two labels or more, the last alphabetic (a
// top-level domain), no empty label. "theme2.css" passes too: only the indicator table decides.
bool LooksLikeDomain(std::string_view run) {
  size_t last_dot = run.rfind('.');
  if (last_dot == std::string_view::npos || run.size() > 253) return false;
  std::string_view tld = run.substr(last_dot + 1);
  if (tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), IsAlpha)) return false;
  return run.find("..") == std::string_view::npos;
}

}  // namespace

void IocStore::MatchEmbeddedIn(std::string_view text, Field field, int64_t now_millis,
                               std::vector<IocMatch>* out) const {
  if (text.size() > kMaxEmbeddedText) text = text.substr(0, kMaxEmbeddedText);
  // A text listing a whole feed raises a handful of alerts, not one per address in it.
  constexpr size_t kMaxHitsPerText = 16;
  size_t hits = 0;
  auto add = [&](const Ioc* ioc) {
    if (ioc == nullptr || hits >= kMaxHitsPerText) return;
    for (const auto& m : *out) {
      if (m.ioc == ioc) return;
    }
    out->push_back({ioc, field});
    ++hits;
  };
  // URLs first: the whole URL may be an indicator, beside its host; one inside another's query
  // ("http://a/?next=http://evil/x") too. A host written as an address in a form other than the
  // dotted quad ("http://3232235777/x.sh", "http://0xc6.51.100.9/") is read as a client would
  // read it; the dotted quad is found with the other addresses below. Each byte is read for a URL's
  // end once (a URL inside the one before ends where it does), and at most kMaxUrlLookups are
  // looked up, so that "a://a://a://..." costs its length, not its square.
  constexpr size_t kMaxUrlLookups = 64;
  if (!urls_.empty() || !networks_.empty()) {
    size_t lookups = 0;
    size_t url_end = 0;  // where the last URL read ended
    size_t sep = text.find("://");
    while (sep != std::string_view::npos && lookups < kMaxUrlLookups) {
      // The scheme: letters and digits only, though RFC 3986 allows "+-." too, since in a
      // payload those join it to what comes before ("wget+-qO-+http://..."), and from its first
      // letter ("1http://").
      size_t start = sep;
      while (start > 0 &&
             (IsAlpha(text[start - 1]) || (text[start - 1] >= '0' && text[start - 1] <= '9'))) {
        --start;
      }
      while (start < sep && !IsAlpha(text[start])) ++start;
      // Nothing from sep + 3 to url_end ends a URL, or the URL before would have ended there.
      size_t end = std::max(sep + 3, url_end);
      while (end < text.size() && !EndsEmbeddedUrl(text[end])) ++end;
      url_end = end;
      if (start < sep && end > sep + 3) {
        const std::string_view url = text.substr(start, end - start);
        if (!urls_.empty()) add(FindUrl(url, now_millis));
        if (!networks_.empty()) {
          std::string_view host = UrlHost(url);
          if (!host.empty() && host[0] >= '0' && host[0] <= '9') {
            if (auto ip = UrlHostAddress(host)) add(FindIp(*ip, now_millis));
          }
        }
        ++lookups;
      }
      sep = text.find("://", sep + 3);
    }
  }
  // Every run of host bytes: an IPv4 address, or a domain name (a URL's host is one of them).
  if (networks_.empty() && domains_.empty()) return;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsHostByte(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsHostByte(text[end])) ++end;
    std::string_view run = text.substr(i, end - i);
    i = end;
    while (!run.empty() && (run.front() == '.' || run.front() == '-')) run.remove_prefix(1);
    while (!run.empty() && (run.back() == '.' || run.back() == '-')) run.remove_suffix(1);
    if (run.find('.') == std::string_view::npos) continue;
    if (run[0] >= '0' && run[0] <= '9' && !networks_.empty() && !Ipv4PrefixUnlisted(run)) {
      if (auto ip = ParseIp(run); ip && ip->v4) {
        add(FindIp(*ip, now_millis));
        continue;
      }
    }
    if (!domains_.empty() && LooksLikeDomain(run)) add(FindDomain(run, now_millis));
  }
  // IPv6 addresses ("Failed password for root from 2001:db8::5 port 22"): runs of hex digits,
  // colons and dots with two colons at least, read only when some indicator is IPv6 (a clock
  // "10:23:45" or a MAC address is no address and parses as none).
  if (!has_ipv6_network_) return;
  auto v6_byte = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
  };
  i = 0;
  while (i < text.size()) {
    if (!v6_byte(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    size_t colons = 0;
    while (end < text.size() && v6_byte(text[end])) colons += text[end++] == ':';
    std::string_view run = text.substr(i, end - i);
    i = end;
    // Bytes a sentence puts around an address ("from 2001:db8::5: error", "... 2001:db8::5.",
    // "ip:2001:db8::5"); a "::" at either end is the address's own.
    while (!run.empty() && run.back() == '.') run.remove_suffix(1);
    while (!run.empty() && run.front() == '.') run.remove_prefix(1);
    if (run.size() >= 2 && run.back() == ':' && run[run.size() - 2] != ':') run.remove_suffix(1);
    if (run.size() >= 2 && run.front() == ':' && run[1] != ':') run.remove_prefix(1);
    // 39 bytes is the longest IPv6 text; 45 with an IPv4 tail; 6 more for a ":port".
    if (colons < 2 || run.size() > 51) continue;
    auto ip = ParseIp(run);
    if (!ip) {
      // Apache's "[client 2001:db8::5:51234]": the port written after the address without
      // brackets. (A port of four digits or fewer reads as an address's last group.)
      const size_t last = run.rfind(':');
      if (last != std::string_view::npos && last + 1 < run.size() &&
          std::all_of(run.begin() + static_cast<ptrdiff_t>(last) + 1, run.end(),
                      [](char c) { return c >= '0' && c <= '9'; })) {
        ip = ParseIp(run.substr(0, last));
      }
    }
    if (ip && !ip->v4) add(FindIp(*ip, now_millis));
  }
}

void IocStore::MatchEmbedded(const Event& ev, bool payloads, int64_t now_millis,
                             std::vector<IocMatch>* out) const {
  if (entries_.empty()) return;
  if (ev.Has(Field::kMessage))
    MatchEmbeddedIn(ev.Get(Field::kMessage), Field::kMessage, now_millis, out);
  if (!payloads) return;
  if (ev.Has(Field::kUrlOriginal)) {
    // Decoded: "curl%20http%3A%2F%2F198.51.100.9" is what the server ran.
    MatchEmbeddedIn(ev.Decoded(Field::kUrlOriginal), Field::kUrlOriginal, now_millis, out);
  }
  for (Field f : {Field::kUserAgentOriginal, Field::kHttpRequestReferrer}) {
    if (ev.Has(f)) MatchEmbeddedIn(ev.Get(f), f, now_millis, out);
  }
}

namespace {

int64_t JsonTimeMillis(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return 0;
  auto t = ParseLogTime(it->get_ref<const std::string&>());
  return t ? *t : 0;
}

bool Truthy(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number_integer()) return it->get<int64_t>() != 0;
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    return s == "1" || s == "true" || s == "True";
  }
  return false;
}

std::string StringOr(const nlohmann::json& obj, const char* key, std::string fallback = "") {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// One `path = 'value'` comparison of a STIX pattern.
struct StixComparison {
  std::string path;
  std::string value;
};

// Parses patterns made of single `=` comparisons (or `ISSUBSET` a network, for addresses)
// joined by OR, in one or several brackets, grouped by parentheses or not:
// "[ipv4-addr:value = '198.51.100.7'] OR ([domain-name:value = 'x.example'])". With OR alone
// the grouping changes nothing. Anything else (AND, FOLLOWEDBY, qualifiers, other operators)
// is refused with the reason.
Status ParseStixPattern(std::string_view p, std::vector<StixComparison>* out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) ++i;
  };
  auto word = [&]() {
    size_t start = i;
    while (i < p.size() && std::isalpha(static_cast<unsigned char>(p[i]))) ++i;
    return std::string(p.substr(start, i - start));
  };
  std::string open;  // the brackets and parentheses not yet closed, innermost last
  bool expect_comparison = true;
  for (;;) {
    skip();
    if (i >= p.size()) break;
    if (expect_comparison) {
      if (p[i] == '[' || p[i] == '(') {
        open.push_back(p[i++]);
        continue;
      }
      StixComparison c;
      while (i < p.size() && p[i] != ' ' && p[i] != '=' && p[i] != '!' && p[i] != '<' &&
             p[i] != '>' && p[i] != ']') {
        if (p[i] == '\'') {
          size_t end = p.find('\'', i + 1);
          if (end == std::string_view::npos) return Status::InvalidArgument("unterminated quote");
          c.path.append(p.substr(i, end - i + 1));
          i = end + 1;
          continue;
        }
        c.path.push_back(p[i++]);
      }
      if (c.path.find(':') == std::string::npos) {
        return Status::InvalidArgument("expected an object path");
      }
      skip();
      if (i < p.size() && p[i] == '=') {
        ++i;
      } else {
        std::string op = i < p.size() && std::isalpha(static_cast<unsigned char>(p[i]))
                             ? word()
                             : std::string(p.substr(i, 2));
        // "the address lies in this network": what an address indicator with a CIDR value says.
        const bool address = c.path == "ipv4-addr:value" || c.path == "ipv6-addr:value";
        if (op != "ISSUBSET" || !address) {
          return Status::InvalidArgument("pattern uses operator '" + op + "'");
        }
      }
      skip();
      if (i >= p.size() || p[i] != '\'') {
        return Status::InvalidArgument("pattern compares with a non-string value");
      }
      ++i;
      bool closed = false;
      while (i < p.size()) {
        char ch = p[i++];
        if (ch == '\\' && i < p.size()) {
          c.value.push_back(p[i++]);
        } else if (ch == '\'') {
          closed = true;
          break;
        } else {
          c.value.push_back(ch);
        }
      }
      if (!closed) return Status::InvalidArgument("unterminated string in pattern");
      out->push_back(std::move(c));
      expect_comparison = false;
      continue;
    }
    if (p[i] == ']' || p[i] == ')') {
      const char opener = p[i] == ']' ? '[' : '(';
      if (open.empty() || open.back() != opener) {
        return Status::InvalidArgument(std::string("unbalanced '") + p[i] + "'");
      }
      open.pop_back();
      ++i;
      continue;
    }
    std::string w = word();
    if (w == "OR") {
      expect_comparison = true;
      continue;
    }
    if (w.empty()) return Status::InvalidArgument("unexpected character in pattern");
    return Status::InvalidArgument("pattern uses '" + w + "'");
  }
  if (!open.empty() || expect_comparison) return Status::InvalidArgument("incomplete pattern");
  return Status::Ok();
}

bool StixPathType(const std::string& path, IocType* type) {
  if (path == "ipv4-addr:value" || path == "ipv6-addr:value") {
    *type = IocType::kIp;
  } else if (path == "domain-name:value") {
    *type = IocType::kDomain;
  } else if (path == "url:value") {
    *type = IocType::kUrl;
  } else if (path.starts_with("file:hashes.")) {
    *type = IocType::kHash;
  } else if (path == "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'") {
    *type = IocType::kUserAgent;
  } else {
    return false;
  }
  return true;
}

// Text from a feed for a message: at most `max` bytes of it, terminal-safe (common/text.h).
std::string Printable(std::string_view text, size_t max) {
  return TerminalSafe(text.substr(0, max));
}

Result<nlohmann::json> ParseJsonDocument(std::string_view text, std::string_view source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Re-parse with exceptions only to learn where it broke.
    try {
      nlohmann::json unused = nlohmann::json::parse(text);
      (void)unused;
    } catch (const nlohmann::json::parse_error& e) {
      // nlohmann counts the byte it stopped at from 1; a person looks for a line and column.
      const size_t at = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
      const std::string_view before = text.substr(0, at);
      const size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
      const size_t line_start = before.rfind('\n');
      const size_t column = at - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
      return Status::InvalidArgument(std::string(source) + ":" + std::to_string(line) + ":" +
                                     std::to_string(column) + ": invalid JSON (byte " +
                                     std::to_string(e.byte) + "; truncated or corrupt file?)");
    } catch (const std::exception&) {
    }
    return Status::InvalidArgument(std::string(source) + ": invalid JSON");
  }
  return j;
}

// The ATT&CK techniques of each indicator of the bundle: the attack-patterns it "indicates"
// (relationship objects), by their external id in an ATT&CK matrix (enterprise, mobile, ICS).
// Of several versions of one relationship only the latest `modified` counts, as for
// indicators, so that a later revocation wins; a revoked one names nothing.
std::unordered_map<std::string, IocContext> StixIndicatorContexts(
    const std::vector<const nlohmann::json*>& objects) {
  std::unordered_map<std::string, std::string> techniques;  // attack-pattern id → T-id
  for (const nlohmann::json* o : objects) {
    if (!o->is_object() || StringOr(*o, "type") != "attack-pattern") continue;
    const std::string id = StringOr(*o, "id");
    auto refs = o->find("external_references");
    if (id.empty() || refs == o->end() || !refs->is_array()) continue;
    for (const auto& r : *refs) {
      if (!r.is_object()) continue;
      const std::string matrix = StringOr(r, "source_name");
      if (matrix != "mitre-attack" && matrix != "mitre-mobile-attack" &&
          matrix != "mitre-ics-attack") {
        continue;
      }
      std::string t = StringOr(r, "external_id");
      if (IsAttackTechniqueId(t)) techniques[id] = t;
    }
  }
  std::unordered_map<std::string, IocContext> contexts;
  if (techniques.empty()) return contexts;
  // Relationship id → its latest version (modified time, object); equal times: the later.
  std::unordered_map<std::string, std::pair<int64_t, const nlohmann::json*>> latest;
  for (const nlohmann::json* o : objects) {
    if (!o->is_object() || StringOr(*o, "type") != "relationship") continue;
    std::string id = StringOr(*o, "id");
    if (id.empty()) continue;
    const int64_t modified = JsonTimeMillis(*o, "modified");
    auto [it, fresh] = latest.try_emplace(std::move(id), modified, o);
    if (!fresh && modified >= it->second.first) it->second = {modified, o};
  }
  for (const auto& [id, version] : latest) {
    const nlohmann::json& r = *version.second;
    const std::string indicator = StringOr(r, "source_ref");
    if (indicator.empty() || StringOr(r, "relationship_type") != "indicates" ||
        Truthy(r, "revoked")) {
      continue;
    }
    auto t = techniques.find(StringOr(r, "target_ref"));
    if (t != techniques.end()) AddTechnique(t->second, &contexts[indicator].attack);
  }
  // (The map's order is not the file's: each indicator's techniques are sorted, so that an
  // alert names them the same way on every load.)
  for (auto& [indicator, context] : contexts) {
    std::sort(context.attack.begin(), context.attack.end());
  }
  return contexts;
}

// Reads an indicator's types (STIX 2.1 indicator_types) into its severity; false, with the
// reason reported, when the indicator is to be skipped.
bool ApplyIndicatorTypes(const nlohmann::json& obj, IocContext* context, ImportReport* report) {
  // STIX 2.1 indicator_types (the indicator-type-ov vocabulary): a "benign" indicator names
  // what is known good (an allow list shared in the same feed), unless the producer also calls
  // it malicious or compromised; one that is only anomalous, an anonymiser or unknown says
  // "look at this", not "attack", and alerts at most at medium.
  // STIX 2.0 carried the same vocabulary in `labels` (an object without spec_version is 2.0;
  // in 2.1 labels are free tags).
  const char* types_key =
      obj.contains("indicator_types") && !obj["indicator_types"].is_null() ? "indicator_types"
      : !obj.contains("spec_version") && obj.contains("labels") && !obj["labels"].is_null()
          ? "labels"
          : nullptr;
  if (types_key == nullptr) return true;
  const nlohmann::json& types = obj[types_key];
  bool listed = types.is_array();
  bool benign = false, hostile = false, mild_only = true;
  for (size_t i = 0; listed && i < types.size(); ++i) {
    if (!types[i].is_string()) {
      listed = false;
      break;
    }
    const std::string& t = types[i].get_ref<const std::string&>();
    benign |= t == "benign";
    hostile |= t == "malicious-activity" || t == "compromised";
    mild_only &= t == "anomalous-activity" || t == "anonymization" || t == "unknown";
  }
  if (!listed) {
    report->Skip(std::string(types_key) + " is not a list of strings");
    return false;
  }
  if (benign && !hostile) {
    report->Skip(std::string(types_key) + " says benign");
    return false;
  }
  // (An empty severity is high.)
  const std::string& given = context->severity;
  if (mild_only && !types.empty() &&
      (given.empty() || core::SeverityRank(given) > core::SeverityRank("medium"))) {
    context->severity = "medium";
  }
  return true;
}

void ImportStixObject(const nlohmann::json& obj, std::string_view source, int64_t now_millis,
                      const IocContext& context, IocStore* store, ImportReport* report) {
  if (!obj.is_object() || StringOr(obj, "type") != "indicator") return;
  if (Truthy(obj, "revoked")) {
    report->Skip("indicator revoked");
    return;
  }
  int64_t until = JsonTimeMillis(obj, "valid_until");
  if (until == 0 && obj.contains("valid_until") && !obj["valid_until"].is_null()) {
    // An expiry the feed meant but this reader cannot read must not become "never expires".
    report->Skip("valid_until is not a timestamp");
    return;
  }
  if (until != 0 && until <= now_millis) {
    report->Skip("indicator past valid_until");
    return;
  }
  // STIX 2.1 confidence (0 to 100) read on its appendix A "None / Low / Med / High" scale:
  // 0 none, 1-29 low, 30-69 medium, 70-100 high. Without one the indicator counts as high.
  IocContext with_confidence = context;
  if (obj.contains("confidence")) {
    const nlohmann::json& confidence = obj["confidence"];
    if (!confidence.is_number_integer() || confidence.get<int64_t>() < 0 ||
        confidence.get<int64_t>() > 100) {
      report->Skip("confidence is not an integer from 0 to 100");
      return;
    }
    int64_t value = confidence.get<int64_t>();
    with_confidence.severity = value == 0   ? "informational"
                               : value < 30 ? "low"
                               : value < 70 ? "medium"
                                            : "high";
  }
  if (!ApplyIndicatorTypes(obj, &with_confidence, report)) return;
  std::string pattern_type = StringOr(obj, "pattern_type", "stix");
  if (pattern_type != "stix") {
    report->Skip("pattern_type '" + Printable(pattern_type, 40) + "' is not stix");
    return;
  }
  std::string pattern = StringOr(obj, "pattern");
  std::vector<StixComparison> comps;
  Status s = ParseStixPattern(pattern, &comps);
  if (!s.ok()) {
    report->Skip(s.message());
    return;
  }
  std::string label = std::string(source) + " " + StringOr(obj, "id", "indicator");
  for (const auto& c : comps) {
    IocType type;
    if (!StixPathType(c.path, &type)) {
      report->Skip("object path '" + Printable(c.path, 80) + "' is not supported");
      continue;
    }
    Status added = store->Add(type, c.value, label, until, with_confidence);
    if (added.ok()) {
      ++report->added;
    } else {
      report->Skip(std::string(IocTypeName(type)) + ": " + added.message());
    }
  }
}

// The ATT&CK technique ids written in a tag's name: MISP's galaxy tags name a technique as
// 'misp-galaxy:mitre-attack-pattern="Exploit Public-Facing Application - T1190"'. Only tags
// of an attack-pattern galaxy are read, so that another tag's "T1234" is not taken for one.
void AddTechniquesOfTag(std::string_view name, std::vector<std::string>* attack) {
  // The namespace and predicate (before '=') say which galaxy; the value names the technique.
  std::string lower = AsciiLower(name.substr(0, std::min<size_t>(name.find('='), 512)));
  if (lower.find("attack-pattern") == std::string::npos) return;
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::string_view text = name.substr(0, 512);
  for (size_t i = 0; i + 5 <= text.size(); ++i) {
    if (text[i] != 'T' || (i > 0 && alnum(text[i - 1]))) continue;
    size_t len = i + 9 <= text.size() && IsAttackTechniqueId(text.substr(i, 9)) ? 9 : 5;
    std::string_view id = text.substr(i, len);
    if (!IsAttackTechniqueId(id) || (i + len < text.size() && alnum(text[i + len]))) continue;
    // "T1059.00" (cut, or malformed) is not its parent technique.
    if (len == 5 && i + 6 < text.size() && text[i + 5] == '.' && text[i + 6] >= '0' &&
        text[i + 6] <= '9') {
      continue;
    }
    AddTechnique(id, attack);
  }
}

// What an event or attribute's tags and attack-pattern galaxies say (ATT&CK techniques).
void AddMispTechniques(const nlohmann::json& holder, std::vector<std::string>* attack) {
  if (auto tags = holder.find("Tag"); tags != holder.end() && tags->is_array()) {
    for (const auto& t : *tags) {
      if (t.is_object()) AddTechniquesOfTag(StringOr(t, "name"), attack);
    }
  }
  auto galaxies = holder.find("Galaxy");
  if (galaxies == holder.end() || !galaxies->is_array()) return;
  for (const auto& g : *galaxies) {
    if (!g.is_object() || StringOr(g, "type").find("attack-pattern") == std::string::npos) {
      continue;
    }
    auto clusters = g.find("GalaxyCluster");
    if (clusters == g.end() || !clusters->is_array()) continue;
    for (const auto& c : *clusters) {
      if (!c.is_object()) continue;
      auto meta = c.find("meta");
      if (meta == c.end() || !meta->is_object()) continue;
      auto ids = meta->find("external_id");
      if (ids == meta->end() || !ids->is_array()) continue;
      for (const auto& id : *ids) {
        if (id.is_string() && IsAttackTechniqueId(id.get<std::string>())) {
          AddTechnique(id.get<std::string>(), attack);
        }
      }
    }
  }
}

// MISP's threat level of an event: 1 high, 2 medium, 3 low; 4 (undefined) or none stays high.
std::string MispSeverity(const nlohmann::json& event) {
  auto it = event.find("threat_level_id");
  if (it == event.end()) return "";
  std::string level = it->is_string()            ? it->get<std::string>()
                      : it->is_number_unsigned() ? std::to_string(it->get<uint64_t>())
                                                 : std::string();
  return level == "1" ? "high" : level == "2" ? "medium" : level == "3" ? "low" : "";
}

void ImportMispAttribute(const nlohmann::json& a, const std::string& label,
                         const IocContext& event_context, IocStore* store, ImportReport* report) {
  if (!a.is_object()) return;
  if (Truthy(a, "deleted")) return;
  if (!Truthy(a, "to_ids")) {  // MISP's own "not for detection" flag (false or absent)
    report->Skip("MISP attribute not marked for detection (to_ids not true)");
    return;
  }
  IocContext context = event_context;
  AddMispTechniques(a, &context.attack);
  std::string type = StringOr(a, "type");
  std::string value = StringOr(a, "value");
  // Composite types "a|b" carry two values "x|y".
  std::vector<std::pair<std::string, std::string>> parts;
  size_t bar = type.find('|');
  if (bar != std::string::npos) {
    size_t vbar = value.find('|');
    if (vbar == std::string::npos) {
      report->Skip("composite type '" + Printable(type, 40) + "' without '|' in its value");
      return;
    }
    parts.emplace_back(type.substr(0, bar), value.substr(0, vbar));
    parts.emplace_back(type.substr(bar + 1), value.substr(vbar + 1));
  } else {
    parts.emplace_back(type, value);
  }
  size_t used = 0;
  for (const auto& [t, v] : parts) {
    IocType it;
    if (t == "ip-src" || t == "ip-dst" || t == "ip") {
      it = IocType::kIp;
    } else if (t == "domain" || t == "hostname") {
      it = IocType::kDomain;
    } else if (t == "url" || t == "uri") {
      it = IocType::kUrl;
    } else if (t == "md5" || t == "sha1" || t == "sha256") {
      it = IocType::kHash;
    } else if (t == "user-agent") {
      it = IocType::kUserAgent;
    } else {
      continue;  // the other half of a pair (filename, port) or an unsupported type
    }
    Status s = store->Add(it, v, label, 0, context);
    if (s.ok()) {
      ++report->added;
      ++used;
    } else {
      report->Skip("MISP " + t + ": " + s.message());
      ++used;
    }
  }
  if (used == 0) report->Skip("MISP type '" + Printable(type, 40) + "' is not supported");
}

void ImportMispObjects(const nlohmann::json& holder, const std::string& label,
                       const IocContext& context, int depth, IocStore* store,
                       ImportReport* report) {
  if (depth > 8 || !holder.is_object()) return;
  if (auto it = holder.find("Attribute"); it != holder.end() && it->is_array()) {
    for (const auto& a : *it) ImportMispAttribute(a, label, context, store, report);
  }
  if (auto it = holder.find("Object"); it != holder.end() && it->is_array()) {
    for (const auto& o : *it) {
      if (Truthy(o, "deleted")) continue;
      ImportMispObjects(o, label, context, depth + 1, store, report);
    }
  }
}

}  // namespace

Result<ImportReport> ImportStix(std::string_view json, std::string_view source, int64_t now_millis,
                                IocStore* store) {
  RAMPART_ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonDocument(json, source));
  ImportReport report;
  std::vector<const nlohmann::json*> objects;
  if (j.is_object() && j.contains("objects") && j["objects"].is_array()) {
    for (const auto& o : j["objects"]) objects.push_back(&o);
  } else if (j.is_object() && StringOr(j, "type") == "indicator") {
    objects.push_back(&j);
  } else if (j.is_array()) {
    for (const auto& o : j) objects.push_back(&o);
  } else {
    return Status::InvalidArgument(std::string(source) +
                                   ": not a STIX bundle (no \"objects\" array)");
  }
  // A feed may carry several versions of one indicator (same id, each with its `modified`):
  // only the latest counts, so that a later revocation or expiry is not outlived by the
  // version before it. Equal times: the later in the file.
  std::unordered_map<std::string, std::pair<int64_t, size_t>> latest;
  for (size_t i = 0; i < objects.size(); ++i) {
    const nlohmann::json& o = *objects[i];
    if (!o.is_object() || StringOr(o, "type") != "indicator") continue;
    std::string id = StringOr(o, "id");
    if (id.empty()) continue;
    int64_t modified = JsonTimeMillis(o, "modified");
    auto [it, fresh] = latest.try_emplace(std::move(id), modified, i);
    if (!fresh && modified >= it->second.first) it->second = {modified, i};
  }
  const std::unordered_map<std::string, IocContext> contexts = StixIndicatorContexts(objects);
  const IocContext none;
  for (size_t i = 0; i < objects.size(); ++i) {
    const nlohmann::json& o = *objects[i];
    const IocContext* context = &none;
    if (o.is_object() && StringOr(o, "type") == "indicator") {
      const std::string id = StringOr(o, "id");
      auto it = latest.find(id);
      if (it != latest.end() && it->second.second != i) {
        report.Skip("indicator superseded by a later version of its id");
        continue;
      }
      if (auto c = contexts.find(id); c != contexts.end()) context = &c->second;
    }
    ImportStixObject(o, source, now_millis, *context, store, &report);
  }
  return report;
}

Result<ImportReport> ImportMisp(std::string_view json, std::string_view source,
                                int64_t /*now_millis*/, IocStore* store) {
  RAMPART_ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonDocument(json, source));
  std::vector<const nlohmann::json*> events;
  auto collect = [&](const nlohmann::json& item) {
    if (item.is_object() && item.contains("Event") && item["Event"].is_object()) {
      events.push_back(&item["Event"]);
    }
  };
  if (j.is_object() && j.contains("response") && j["response"].is_array()) {
    for (const auto& item : j["response"]) collect(item);
  } else if (j.is_array()) {
    for (const auto& item : j) collect(item);
  } else {
    collect(j);
  }
  if (events.empty()) {
    return Status::InvalidArgument(std::string(source) + ": no MISP \"Event\" object");
  }
  ImportReport report;
  for (const nlohmann::json* ev : events) {
    std::string label =
        std::string(source) + " event " + StringOr(*ev, "uuid", StringOr(*ev, "id"));
    IocContext context;
    context.severity = MispSeverity(*ev);
    AddMispTechniques(*ev, &context.attack);
    ImportMispObjects(*ev, label, context, 0, store, &report);
  }
  return report;
}

namespace {

// Splits one CSV line; double-quoted fields may hold commas and "" for a quote.
bool SplitCsv(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && Trim(cur).empty()) {
      cur.clear();
      quoted = true;
    } else if (c == ',') {
      out->push_back(std::string(Trim(cur)));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (quoted) return false;
  out->push_back(std::string(Trim(cur)));
  return true;
}

bool CsvType(std::string_view t, IocType* type) {
  std::string l = AsciiLower(t);
  if (l == "ip" || l == "ipv4" || l == "ipv6" || l == "cidr" || l == "ip-src" || l == "ip-dst" ||
      l == "ipv4-addr" || l == "ipv6-addr") {
    *type = IocType::kIp;
  } else if (l == "domain" || l == "hostname" || l == "domain-name" || l == "fqdn") {
    *type = IocType::kDomain;
  } else if (l == "url" || l == "uri") {
    *type = IocType::kUrl;
  } else if (l == "hash" || l == "md5" || l == "sha1" || l == "sha256" || l == "sha-1" ||
             l == "sha-256") {
    *type = IocType::kHash;
  } else if (l == "user-agent" || l == "user_agent" || l == "useragent") {
    *type = IocType::kUserAgent;
  } else {
    return false;
  }
  return true;
}

// YYYY-MM-DD and nothing else.
bool IsBareDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

}  // namespace

namespace {

// Windows tools often begin UTF-8 files with a byte-order mark; it is not part of the first
// field or of the JSON.
std::string_view WithoutByteOrderMark(std::string_view text) {
  return text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
}

}  // namespace

Result<ImportReport> ImportCsv(std::string_view text, std::string_view source, int64_t now_millis,
                               IocStore* store) {
  text = WithoutByteOrderMark(text);
  ImportReport report;
  std::vector<std::string> cols;
  size_t line_no = 0;
  size_t severity_column = std::string::npos, attack_column = std::string::npos;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (!SplitCsv(line, &cols) || cols.size() < 2) {
      report.Skip("malformed CSV line", line_no);
      continue;
    }
    if (line_no == 1 && AsciiLower(cols[0]) == "type") {
      // Severity and techniques are read only from columns the header names: a feed that put
      // something else after the expiry (a comment, a confidence score) reads as it always did.
      for (size_t c = 4; c < cols.size(); ++c) {
        const std::string name = AsciiLower(cols[c]);
        if (name == "severity") severity_column = c;
        if (name == "attack") attack_column = c;
      }
      continue;
    }
    IocType type;
    if (!CsvType(cols[0], &type)) {
      report.Skip("CSV type '" + Printable(cols[0], 40) + "' is not supported", line_no);
      continue;
    }
    std::string label = cols.size() > 2 && !cols[2].empty() ? cols[2] : std::string(source);
    int64_t expires = 0;
    if (cols.size() > 3 && !cols[3].empty()) {
      const std::string& e = cols[3];
      if (std::all_of(e.begin(), e.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          e.size() < 15) {
        expires = std::stoll(e) * 1000;
      } else if (auto t = ParseLogTime(e)) {
        expires = *t;
      } else if (auto day = ParseLogTime(IsBareDate(e) ? e + "T00:00:00Z" : std::string())) {
        // "valid until 2026-02-01" holds through that day: until the next one begins (UTC).
        expires = *day + 86400000;
      } else {
        report.Skip("CSV expiry is neither RFC 3339, a date nor Unix seconds", line_no);
        continue;
      }
      if (expires <= now_millis) {
        report.Skip("indicator expired", line_no);
        continue;
      }
    }
    IocContext context;
    if (severity_column < cols.size()) context.severity = AsciiLower(cols[severity_column]);
    if (attack_column < cols.size()) {
      // Technique ids separated by ';', ',', spaces or tabs ("T1190;T1059.004"), any case.
      std::string_view ids = cols[attack_column];
      while (!ids.empty()) {
        size_t end = ids.find_first_of("; ,\t");
        if (std::string_view id = ids.substr(0, end); !id.empty()) {
          context.attack.push_back(AsciiUpper(id));
        }
        ids = end == std::string_view::npos ? std::string_view() : ids.substr(end + 1);
      }
    }
    Status s = store->Add(type, cols[1], label, expires, context);
    if (s.ok()) {
      ++report.added;
    } else {
      report.Skip(std::string(IocTypeName(type)) + ": " + s.message(), line_no);
    }
  }
  return report;
}

Result<ImportReport> ImportIocFile(const std::string& path, int64_t now_millis, IocStore* store) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text(WithoutByteOrderMark(ss.str()));
  std::string name = path.substr(path.find_last_of('/') + 1);
  // Not a feed at all (an archive, an image): said once, rather than a CSV error per row
  // quoting its bytes back to the terminal.
  if (std::string_view(text).substr(0, 4096).find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(name + ": binary content, not STIX 2.1, MISP JSON or CSV");
  }
  if (path.ends_with(".csv") || path.ends_with(".txt")) {
    return ImportCsv(text, name, now_millis, store);
  }
  // MISP exports start with {"Event" or {"response"; everything else JSON is tried as STIX.
  size_t brace = text.find_first_not_of(" \t\r\n");
  if (brace != std::string::npos && (text[brace] == '{' || text[brace] == '[')) {
    size_t head = std::min<size_t>(text.size(), 4096);
    std::string_view start(text.data(), head);
    size_t ev = start.find("\"Event\"");
    size_t resp = start.find("\"response\"");
    size_t objs = start.find("\"objects\"");
    bool misp = (ev != std::string_view::npos || resp != std::string_view::npos) &&
                (objs == std::string_view::npos || std::min(ev, resp) < objs);
    return misp ? ImportMisp(text, name, now_millis, store)
                : ImportStix(text, name, now_millis, store);
  }
  return ImportCsv(text, name, now_millis, store);
}

}  // namespace rampart::detect
