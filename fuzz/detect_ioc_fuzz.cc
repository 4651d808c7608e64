// libFuzzer target: the STIX, MISP and CSV importers on arbitrary bytes; the first byte picks
// the importer so that one corpus covers all three. Then the lookups (MatchEmbedded's reading
// of free text among them): MatchEvent's shortcuts
// against ParseIp + FindIp and FindUrl, and a store that has answered many lookups (and filled
// the per-thread memo of hosts that match nothing) against a fresh store imported from the same
// bytes, on events built from every line of the input, at two times, in both orders: a lookup
// must never change a later answer, nor one store's memo answer for another.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/ioc.h"

namespace {

constexpr int64_t kNow = 1769760000000;

void Import(uint8_t selector, std::string_view text, rampart::detect::IocStore* store) {
  switch (selector % 3) {
    case 0:
      (void)rampart::detect::ImportStix(text, "f", kNow, store);
      break;
    case 1:
      (void)rampart::detect::ImportMisp(text, "f", kNow, store);
      break;
    default:
      (void)rampart::detect::ImportCsv(text, "f", kNow, store);
      break;
  }
}

// The events looked up for one text: the text in each field MatchEvent reads, alone, and as
// the request path under the text as virtual host.
struct Probe {
  rampart::detect::Field field;
  std::string_view text;
};

constexpr rampart::detect::Field kProbeFields[] = {
    rampart::detect::Field::kSourceIp,          rampart::detect::Field::kDestinationIp,
    rampart::detect::Field::kDestinationDomain, rampart::detect::Field::kHttpRequestReferrer,
    rampart::detect::Field::kUrlOriginal,       rampart::detect::Field::kFileHashSha256,
    rampart::detect::Field::kUserAgentOriginal,
};

// What one lookup answered, comparable across stores: the indicator's identity, not its address.
std::string Answer(const std::vector<rampart::detect::IocMatch>& hits) {
  std::string out;
  for (const auto& hit : hits) {
    out += std::string(rampart::detect::FieldName(hit.field)) + "=" +
           std::string(rampart::detect::IocTypeName(hit.ioc->type)) + ":" + hit.ioc->value + "@" +
           hit.ioc->source + "~" + std::to_string(hit.ioc->expires_millis) + ";";
  }
  return out;
}

std::vector<std::string> AskAll(const rampart::detect::IocStore& store,
                                const std::vector<std::string_view>& texts, int64_t now) {
  std::vector<std::string> answers;
  std::vector<rampart::detect::IocMatch> hits;
  for (std::string_view text : texts) {
    for (rampart::detect::Field f : kProbeFields) {
      rampart::detect::Event ev;
      ev.Set(f, text);
      store.MatchEvent(ev, now, &hits);
      answers.push_back(Answer(hits));
    }
    rampart::detect::Event host_and_path;
    host_and_path.Set(rampart::detect::Field::kDestinationDomain, text);
    host_and_path.Set(rampart::detect::Field::kUrlOriginal, "/");
    host_and_path.Set(rampart::detect::Field::kHttpRequestReferrer, text);
    store.MatchEvent(host_and_path, now, &hits);
    answers.push_back(Answer(hits));
    // The text as free text: a message, and a flagged request's payload.
    rampart::detect::Event free_text;
    free_text.Set(rampart::detect::Field::kMessage, text);
    free_text.Set(rampart::detect::Field::kUrlOriginal, text);
    hits.clear();
    store.MatchEmbedded(free_text, /*payloads=*/true, now, &hits);
    answers.push_back(Answer(hits));
    const rampart::detect::Ioc* domain = store.FindDomain(text, now);
    answers.push_back(domain == nullptr ? "-" : domain->value);
    const rampart::detect::Ioc* url = store.FindUrl(text, now);
    answers.push_back(url == nullptr ? "-" : url->value);
  }
  return answers;
}

void ExpectSame(const std::vector<std::string>& a, const std::vector<std::string>& b,
                const char* what) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      std::fprintf(stderr, "detect_ioc_fuzz: %s: lookup %zu answered '%s', then '%s'\n", what, i,
                   a[i].c_str(), b[i].c_str());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  rampart::detect::IocStore store;
  Import(data[0], text, &store);
  if (auto ip = rampart::ParseIp("203.0.113.7")) (void)store.FindIp(*ip, kNow);
  (void)store.FindDomain("a.b.example", kNow);
  (void)store.FindUrl("http://a.example/x", kNow);
  // MatchEvent's shortcuts (address prefixes against the IPv4 bitmaps, bare paths) must answer
  // as ParseIp + FindIp and FindUrl do, with the input's last line as the looked-up text.
  size_t last_newline = text.rfind('\n');
  std::string_view probe =
      last_newline == std::string_view::npos ? text : text.substr(last_newline + 1);
  std::vector<rampart::detect::IocMatch> hits;
  rampart::detect::Event ev;
  ev.Set(rampart::detect::Field::kSourceIp, probe);
  store.MatchEvent(ev, kNow, &hits);
  auto ip = rampart::ParseIp(probe);
  const rampart::detect::Ioc* want = ip ? store.FindIp(*ip, kNow) : nullptr;
  if (hits.size() != (want != nullptr ? 1u : 0u) || (want != nullptr && hits[0].ioc != want)) {
    std::abort();
  }
  rampart::detect::Event target;
  target.Set(rampart::detect::Field::kUrlOriginal, probe);
  store.MatchEvent(target, kNow, &hits);
  want = store.FindUrl(probe, kNow);
  if (hits.size() != (want != nullptr ? 1u : 0u) || (want != nullptr && hits[0].ioc != want)) {
    std::abort();
  }

  // Every line of the input (and the whole of it) as looked-up text: indicators come from
  // these same bytes, so some lookups hit. Bounded, so that one input stays fast.
  std::vector<std::string_view> texts = {text};
  for (size_t start = 0; start < text.size() && texts.size() < 64;) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    texts.push_back(line);
    // A CSV line's value, a STIX or MISP string: the part after the last ',' or ':' or '"'.
    size_t cut = line.find_last_of(",:\"'");
    if (cut != std::string_view::npos) texts.push_back(line.substr(cut + 1));
    start = end + 1;
  }
  // An hour later some indicators have expired: a miss that depends on the time is not a miss
  // for an earlier time.
  constexpr int64_t kLater = kNow + 3600 * 1000;
  std::vector<std::string> used_now = AskAll(store, texts, kNow);
  std::vector<std::string> used_later = AskAll(store, texts, kLater);
  rampart::detect::IocStore fresh;
  Import(data[0], text, &fresh);
  if (fresh.size() != store.size()) {
    std::fprintf(stderr, "detect_ioc_fuzz: the same input gave %zu and %zu indicators\n",
                 store.size(), fresh.size());
    std::abort();
  }
  ExpectSame(used_later, AskAll(fresh, texts, kLater), "fresh store at the later time");
  ExpectSame(used_now, AskAll(fresh, texts, kNow), "fresh store, earlier time after later");
  ExpectSame(used_now, AskAll(store, texts, kNow), "used store asked again");
  ExpectSame(used_later, AskAll(store, texts, kLater), "used store asked again, later time");
  return 0;
}
