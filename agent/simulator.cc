#include "agent/simulator.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <csignal>
#include <deque>
#include <functional>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <vector>

#include "agent/protocol_client.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "http/client.h"

namespace rampart::agent {

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Stream = beast::ssl_stream<beast::tcp_stream>;

constexpr size_t kMaxResponseBody = 256u * 1024 * 1024;  // app packages
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr int kMaxEnrollAttempts = 3;

// The result of one HTTP exchange as the simulator sees it.
struct Exchange {
  std::string error_kind;  // empty when a response arrived: "connect", "tls", "timeout", "io"
  int status = 0;
  std::string body;
  double latency_ms = 0;
};
using Callback = std::function<void(Exchange)>;

struct Job {
  OutgoingRequest request;
  Callback done;
};

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

class Pool;

// One keep-alive TLS connection; carries one request at a time.
class Connection {
 public:
  explicit Connection(Pool& pool) : pool_(pool) {}
  void Start(Job job);
  // Closes the socket; an operation in flight completes with an error.
  void Close();

 private:
  void Connect();
  void Send();
  void Fail(const char* kind, const boost::system::error_code& ec, bool may_retry);
  void Finish(Exchange ex);

  Pool& pool_;
  std::unique_ptr<Stream> stream_;
  bool connected_ = false;
  bool reused_ = false;  // this connection served a request before the current one
  bool retried_ = false;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> req_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  Job job_;
  SteadyClock::time_point started_;
};

// A fixed set of connections and a FIFO of requests waiting for one. Single-threaded: every
// method runs on the io_context's one thread.
class Pool {
 public:
  Pool(net::io_context& ioc, ssl::context& ctx, std::vector<tcp::endpoint> endpoints,
       std::string host, uint16_t port, int size, int timeout_ms)
      : ioc_(ioc),
        ctx_(ctx),
        endpoints_(std::move(endpoints)),
        host_(std::move(host)),
        host_header_((host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
                     std::to_string(port)),
        timeout_(timeout_ms) {
    for (int i = 0; i < size; ++i) {
      conns_.push_back(std::make_unique<Connection>(*this));
      idle_.push_back(conns_.back().get());
    }
  }

  void Submit(OutgoingRequest request, Callback done) {
    if (closing_) return;
    Job job{std::move(request), std::move(done)};
    if (!idle_.empty()) {
      Connection* c = idle_.back();
      idle_.pop_back();
      c->Start(std::move(job));
    } else {
      queue_.push_back(std::move(job));
    }
  }

  void OnIdle(Connection* c) {
    if (closing_) {
      c->Close();
      idle_.push_back(c);
      return;
    }
    if (!queue_.empty()) {
      Job job = std::move(queue_.front());
      queue_.pop_front();
      c->Start(std::move(job));
    } else {
      idle_.push_back(c);
    }
  }

  bool Busy() const { return idle_.size() < conns_.size(); }
  bool closing() const { return closing_; }

  // Stops taking work: queued requests are dropped, idle connections closed. Busy ones close
  // when their request finishes, or at once with CloseAll.
  void BeginClose() {
    closing_ = true;
    queue_.clear();
    for (Connection* c : idle_) c->Close();
  }
  void CloseAll() {
    closing_ = true;
    queue_.clear();
    for (auto& c : conns_) c->Close();
  }

  net::io_context& ioc() { return ioc_; }
  ssl::context& ctx() { return ctx_; }
  const std::vector<tcp::endpoint>& endpoints() const { return endpoints_; }
  const std::string& host() const { return host_; }
  const std::string& host_header() const { return host_header_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  net::io_context& ioc_;
  ssl::context& ctx_;
  std::vector<tcp::endpoint> endpoints_;
  std::string host_;
  std::string host_header_;
  std::chrono::milliseconds timeout_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> idle_;
  std::deque<Job> queue_;
  bool closing_ = false;
};

void Connection::Start(Job job) {
  job_ = std::move(job);
  retried_ = false;
  started_ = SteadyClock::now();
  if (connected_) {
    reused_ = true;
    Send();
  } else {
    reused_ = false;
    Connect();
  }
}

void Connection::Close() {
  if (!stream_) return;
  boost::system::error_code ignored;
  auto& sock = beast::get_lowest_layer(*stream_).socket();
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  connected_ = false;
}

void Connection::Connect() {
  // A fresh stream per connection: an SSL object cannot be reused after its connection ended.
  stream_ = std::make_unique<Stream>(pool_.ioc(), pool_.ctx());
  buffer_.clear();
  SSL* ssl = stream_->native_handle();
  const std::string& host = pool_.host();
  bool ok = IsIpLiteral(host)
                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
                : (SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
                   SSL_set1_host(ssl, host.c_str()) == 1);
  if (!ok) {
    Fail("tls", {}, false);
    return;
  }
  beast::get_lowest_layer(*stream_).expires_after(pool_.timeout());
  beast::get_lowest_layer(*stream_).async_connect(
      pool_.endpoints(), [this](const boost::system::error_code& ec, const tcp::endpoint&) {
        if (ec) {
          Fail(ec == beast::error::timeout ? "timeout" : "connect", ec, false);
          return;
        }
        beast::get_lowest_layer(*stream_).expires_after(pool_.timeout());
        stream_->async_handshake(
            ssl::stream_base::client, [this](const boost::system::error_code& hec) {
              if (hec) {
                Fail(hec == beast::error::timeout ? "timeout" : "tls", hec, false);
                return;
              }
              connected_ = true;
              Send();
            });
      });
}

void Connection::Send() {
  const OutgoingRequest& r = job_.request;
  req_ = {};
  req_.method_string(r.method);
  req_.target(r.target);
  req_.version(11);
  req_.set(bhttp::field::host, pool_.host_header());
  req_.set(bhttp::field::user_agent, "rampart-agent-simulator");
  for (const auto& [name, value] : r.headers) req_.set(name, value);
  req_.keep_alive(true);
  req_.body() = r.body;
  if (r.method == "GET" && r.body.empty()) {
    req_.erase(bhttp::field::content_length);
  } else {
    req_.prepare_payload();
  }
  beast::get_lowest_layer(*stream_).expires_after(pool_.timeout());
  bhttp::async_write(*stream_, req_, [this](const boost::system::error_code& ec, size_t) {
    if (ec) {
      Fail(ec == beast::error::timeout ? "timeout" : "io", ec, true);
      return;
    }
    parser_.emplace();
    parser_->body_limit(kMaxResponseBody);
    beast::get_lowest_layer(*stream_).expires_after(pool_.timeout());
    bhttp::async_read(*stream_, buffer_, *parser_,
                      [this](const boost::system::error_code& rec, size_t) {
                        if (rec) {
                          bool nothing_read = !parser_->got_some();
                          Fail(rec == beast::error::timeout ? "timeout" : "io", rec, nothing_read);
                          return;
                        }
                        auto& res = parser_->get();
                        Exchange ex;
                        ex.status = static_cast<int>(res.result_int());
                        ex.body = std::move(res.body());
                        if (!res.keep_alive()) Close();
                        Finish(std::move(ex));
                      });
  });
}

void Connection::Fail(const char* kind, const boost::system::error_code& ec, bool may_retry) {
  bool aborted = ec == net::error::operation_aborted;
  Close();
  // A keep-alive connection the server closed while idle fails before any response byte: one
  // more try on a fresh connection. A timeout is not retried.
  if (may_retry && reused_ && !retried_ && !aborted && !pool_.closing() &&
      ec != beast::error::timeout) {
    retried_ = true;
    reused_ = false;
    Connect();
    return;
  }
  Exchange ex;
  ex.error_kind = aborted ? "aborted" : kind;
  Finish(std::move(ex));
}

void Connection::Finish(Exchange ex) {
  ex.latency_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
  Callback done = std::move(job_.done);
  job_ = {};
  pool_.OnIdle(this);
  if (done) done(std::move(ex));
}

// ---------------------------------------------------------------------------------------------

constexpr const char* kIosModels[] = {"iPhone 15", "iPhone 15 Pro", "iPhone 14", "iPhone SE",
                                      "iPad Air"};
constexpr const char* kIosVersions[] = {"17.4", "17.3.1", "17.2", "16.7.5"};
constexpr const char* kAndroidModels[] = {"Pixel 8", "Pixel 7a", "Galaxy S23", "Galaxy A54",
                                          "Fairphone 5"};
constexpr const char* kAndroidVersions[] = {"14", "13", "12"};

template <size_t N>
const char* Pick(std::mt19937_64& rng, const char* const (&items)[N]) {
  return items[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

class Simulation {
 public:
  explicit Simulation(const SimulatorOptions& o)
      : options_(o),
        ctx_(ssl::context::tls_client),
        tick_(ioc_),
        end_(ioc_),
        grace_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        rng_(o.seed) {}

  Result<SimulatorSummary> Run() {
    RAMPART_RETURN_IF_ERROR(Setup());
    start_ = SteadyClock::now();
    EnrollMore();
    Tick();
    end_.expires_after(std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(options_.duration_seconds)));
    end_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) End();
    });
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) End();
    });
    try {
      ioc_.run();
    } catch (const std::exception& e) {
      return Status::Internal(std::string("simulator event loop failed: ") + e.what());
    }
    return BuildSummary();
  }

 private:
  struct VDevice {
    SimDevice dev;
    EnrollParams params;
    crypto::Ed25519KeyPair keys;
    DeviceIdentity identity;
    bool enrolled = false;
    bool stopped = false;
    int enroll_attempts = 0;
    int64_t last_checkin_ms = 0;
    std::string compliance;
    std::deque<WireCommand> commands;
    std::string institution_id;
    CommandTrust trust;  // pinned at enrollment, checked for every command
  };

  Status Setup() {
    const auto& o = options_;
    if (o.devices < 1 || o.devices > 1000000) {
      return Status::InvalidArgument("--devices must be between 1 and 1000000");
    }
    if (!(o.interval_seconds > 0)) return Status::InvalidArgument("--interval must be positive");
    if (!(o.duration_seconds > 0)) return Status::InvalidArgument("--duration must be positive");
    if (!(o.platform_mix >= 0 && o.platform_mix <= 1)) {
      return Status::InvalidArgument("--platform-mix must be between 0 and 1");
    }
    if (o.connections < 1 || o.connections > 4096) {
      return Status::InvalidArgument("--connections must be between 1 and 4096");
    }
    if (o.token.empty()) return Status::InvalidArgument("an enrollment token is required");
    bool tls = false;
    std::string host;
    uint16_t port = 0;
    RAMPART_RETURN_IF_ERROR(http::ParseUrl(o.server_url, &tls, &host, &port));
    if (!tls) return Status::InvalidArgument("the simulator speaks HTTPS only: use https://");

    SSL_CTX* ctx = ctx_.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("cannot load the CA file " + o.ca_file);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);

    std::vector<tcp::endpoint> endpoints;
    boost::system::error_code ec;
    if (IsIpLiteral(host)) {
      endpoints.emplace_back(net::ip::make_address(host), port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) return Status::Unavailable("cannot resolve " + host);
      for (const auto& e : results) endpoints.push_back(e.endpoint());
    }
    pool_ = std::make_unique<Pool>(ioc_, ctx_, std::move(endpoints), host, port, o.connections,
                                   o.timeout_ms);
    max_sessions_ = static_cast<size_t>(o.connections) * 2;
    interval_ms_ = o.interval_seconds * 1000.0;

    devices_.resize(static_cast<size_t>(o.devices));
    for (auto& d : devices_) {
      bool ios = std::uniform_real_distribution<double>(0, 1)(rng_) < o.platform_mix;
      auto platform = ios ? core::Platform::kIos : core::Platform::kAndroid;
      std::string os = ios ? Pick(rng_, kIosVersions) : Pick(rng_, kAndroidVersions);
      d.dev = NewDevice(platform, os);
      // Fleets are mixed: some devices come without a passcode, most with 4 or 6 digits.
      int roll = std::uniform_int_distribution<int>(0, 9)(rng_);
      d.dev.state.passcode_set = roll != 0;
      d.dev.state.passcode_length = roll == 0 ? 0 : (roll < 5 ? 4 : 6);
      d.dev.state.battery_percent = std::uniform_int_distribution<int>(15, 100)(rng_);
      d.params.token = o.token;
      d.params.platform = platform;
      d.params.model = ios ? Pick(rng_, kIosModels) : Pick(rng_, kAndroidModels);
      std::string serial = crypto::RandomHex(5);
      for (char& c : serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      d.params.serial = "SIM" + serial;
      d.params.os_version = os;
      d.params.ownership = std::uniform_int_distribution<int>(0, 4)(rng_) == 0
                               ? core::Ownership::kPersonal
                               : core::Ownership::kCorporate;
    }
    return Status::Ok();
  }

  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start_)
        .count();
  }

  void CountError(const std::string& operation, const Exchange& ex) {
    if (ex.error_kind == "aborted") return;
    std::string kind = ex.error_kind.empty() ? "http_" + std::to_string(ex.status) : ex.error_kind;
    ++summary_.errors[operation + "_" + kind];
  }

  // ---- enrollment ----

  void EnrollMore() {
    while (!ending_ && next_enroll_ < devices_.size() &&
           enroll_inflight_ < static_cast<size_t>(options_.connections)) {
      Enroll(static_cast<uint32_t>(next_enroll_++));
    }
  }

  void Enroll(uint32_t idx) {
    VDevice& d = devices_[idx];
    ++enroll_inflight_;
    ++d.enroll_attempts;
    if (d.keys.public_key.empty()) d.keys = crypto::GenerateEd25519();
    auto body = BuildEnrollBody(d.params, d.keys);
    if (!body.ok()) {
      ++summary_.errors["enroll_build"];
      --enroll_inflight_;
      return;
    }
    OutgoingRequest req{"POST", kEnrollTarget, {{"content-type", "application/json"}}, *body};
    pool_->Submit(std::move(req), [this, idx](Exchange ex) { OnEnrolled(idx, std::move(ex)); });
  }

  void OnEnrolled(uint32_t idx, Exchange ex) {
    --enroll_inflight_;
    VDevice& d = devices_[idx];
    if (ending_) return MaybeFinish();
    bool ok = ex.error_kind.empty() && (ex.status == 201 || ex.status == 200);
    if (ok) {
      auto parsed = ParseEnrollResponse(ex.body);
      if (!parsed.ok()) {
        ++summary_.errors["enroll_parse"];
        ok = false;
        ex.status = 0;
      } else {
        d.enrolled = true;
        d.identity = {parsed->device_id, d.keys.secret_key};
        d.institution_id = parsed->institution_id;
        d.trust.pin = parsed->command_key;
        ++summary_.devices_enrolled;
        enroll_latency_.push_back(ex.latency_ms);
        // Spread the first check-ins over one interval so load is steady from the start.
        double first = std::uniform_real_distribution<double>(0, interval_ms_)(rng_);
        schedule_.push({NowMs() + static_cast<int64_t>(first), idx});
        if (summary_.devices_enrolled == static_cast<int64_t>(devices_.size())) {
          summary_.enroll_seconds = static_cast<double>(NowMs()) / 1000.0;
        }
      }
    } else {
      CountError("enroll", ex);
    }
    // Transport errors, overload and rate limits are worth another try; a refusal is not.
    bool transient = !ex.error_kind.empty() || ex.status == 429 || ex.status >= 500;
    if (!ok && transient && d.enroll_attempts < kMaxEnrollAttempts) {
      auto timer = std::make_shared<net::steady_timer>(ioc_);
      retry_timers_.push_back(timer);
      timer->expires_after(std::chrono::milliseconds(250 * d.enroll_attempts));
      timer->async_wait([this, idx, timer](const boost::system::error_code& ec) {
        retry_timers_.erase(std::remove(retry_timers_.begin(), retry_timers_.end(), timer),
                            retry_timers_.end());
        if (!ec && !ending_) Enroll(idx);
        MaybeFinish();
      });
    }
    EnrollMore();
  }

  // ---- check-in sessions ----

  void Tick() {
    if (ending_) return;
    int64_t now = NowMs();
    while (!schedule_.empty() && schedule_.top().first <= now && sessions_ < max_sessions_) {
      auto [due, idx] = schedule_.top();
      schedule_.pop();
      if (devices_[idx].stopped) continue;
      lag_.push_back(static_cast<double>(now - due));
      StartCheckin(idx, now);
    }
    tick_.expires_after(kTick);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  void StartCheckin(uint32_t idx, int64_t now) {
    VDevice& d = devices_[idx];
    ++sessions_;
    int64_t elapsed_s = d.last_checkin_ms == 0 ? static_cast<int64_t>(options_.interval_seconds)
                                               : (now - d.last_checkin_ms) / 1000;
    Drift(d.dev, rng_, elapsed_s, options_.drift);
    BeforeCheckin(d.dev);
    d.last_checkin_ms = now;
    SubmitSigned(idx, "POST", kCheckinTarget, BuildCheckinBody(d.dev.state, d.trust.pin.key_id),
                 [this, idx](Exchange ex) { OnCheckin(idx, std::move(ex)); });
  }

  void SubmitSigned(uint32_t idx, const char* method, std::string target, std::string body,
                    Callback done) {
    auto req = SignRequestNow(devices_[idx].identity, method, std::move(target), std::move(body),
                              SystemClock::Instance());
    if (!req.ok()) {
      Exchange ex;
      ex.error_kind = "sign";
      done(std::move(ex));
      return;
    }
    pool_->Submit(std::move(req).value(), std::move(done));
  }

  void OnCheckin(uint32_t idx, Exchange ex) {
    VDevice& d = devices_[idx];
    if (!ex.error_kind.empty() || ex.status != 200) {
      CountError("checkin", ex);
      return EndSession(idx);
    }
    auto parsed = ParseCheckinResponse(ex.body);
    if (!parsed.ok()) {
      ++summary_.errors["checkin_parse"];
      return EndSession(idx);
    }
    if (!ending_) {
      ++summary_.checkins;
      checkin_latency_.push_back(ex.latency_ms);
    }
    d.compliance = parsed->compliance_state.empty() ? "unknown" : parsed->compliance_state;
    FollowRotations(d.trust, d.institution_id, parsed->key_rotations);
    d.commands.assign(parsed->commands.begin(), parsed->commands.end());
    NextCommand(idx);
  }

  void NextCommand(uint32_t idx) {
    VDevice& d = devices_[idx];
    if (d.commands.empty() || ending_) {
      d.commands.clear();
      return EndSession(idx);
    }
    const WireCommand& cmd = d.commands.front();
    // One Ed25519 verification per command, before anything (even a download) happens.
    auto why =
        CheckCommand(d.trust, d.identity.device_id, cmd, SystemClock::Instance().NowSeconds());
    if (why) {
      ExecuteAndReport(idx, nullptr, why);
    } else if (auto sha = PackageForInstall(cmd)) {
      SubmitSigned(idx, "GET", AppDownloadTarget(*sha), "", [this, idx](Exchange ex) {
        if (ending_) return EndSession(idx);
        Result<std::string> package = Status::Unavailable("package download failed");
        if (!ex.error_kind.empty()) {
          CountError("download", ex);
          package = Status::Unavailable("package download failed: " + ex.error_kind);
        } else if (ex.status != 200) {
          CountError("download", ex);
          package = StatusFromHttp(ex.status, ex.body, "package download");
        } else {
          ++summary_.apps_downloaded;
          summary_.bytes_downloaded += static_cast<int64_t>(ex.body.size());
          package = std::move(ex.body);
        }
        ExecuteAndReport(idx, &package, std::nullopt);
      });
    } else {
      ExecuteAndReport(idx, nullptr, std::nullopt);
    }
  }

  void ExecuteAndReport(uint32_t idx, const Result<std::string>* package,
                        std::optional<Rejection> why) {
    VDevice& d = devices_[idx];
    WireCommand cmd = std::move(d.commands.front());
    d.commands.pop_front();
    Outcome outcome;
    if (why) {
      outcome.status = "rejected";
      outcome.error = std::string(ToString(*why));
      ++summary_.commands_rejected[outcome.error];
    } else {
      outcome = Execute(d.dev, cmd, package);
      MarkExecuted(d.trust, cmd);
      ++summary_.commands_executed[cmd.type];
      if (outcome.status != "acknowledged") ++summary_.command_errors[cmd.type];
    }
    Effect effect = outcome.effect;
    SubmitSigned(idx, "POST", CommandResultTarget(cmd.id), BuildResultBody(outcome),
                 [this, idx, effect](Exchange ex) {
                   if (!ex.error_kind.empty() || ex.status != 200) CountError("result", ex);
                   if (effect != Effect::kNone) {
                     // Wiped or retired: this device forgets its enrollment and goes quiet.
                     devices_[idx].stopped = true;
                     devices_[idx].commands.clear();
                     ++summary_.devices_stopped;
                     return EndSession(idx);
                   }
                   NextCommand(idx);
                 });
  }

  void EndSession(uint32_t idx) {
    --sessions_;
    VDevice& d = devices_[idx];
    if (!d.stopped && !ending_) {
      double jitter = std::uniform_real_distribution<double>(0.9, 1.1)(rng_);
      schedule_.push({d.last_checkin_ms + static_cast<int64_t>(interval_ms_ * jitter), idx});
    }
    MaybeFinish();
  }

  // ---- the end ----

  void End() {
    if (ending_) return;
    ending_ = true;
    end_ms_ = NowMs();
    boost::system::error_code ignored;
    tick_.cancel();
    end_.cancel();
    signals_.cancel(ignored);
    for (auto& t : retry_timers_) t->cancel();
    pool_->BeginClose();
    // Requests in flight get a moment to finish so their connections close cleanly.
    grace_.expires_after(std::min(std::chrono::milliseconds(2000), pool_->timeout()));
    grace_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) pool_->CloseAll();
    });
    MaybeFinish();
  }

  void MaybeFinish() {
    if (ending_ && !pool_->Busy()) grace_.cancel();
  }

  SimulatorSummary BuildSummary() {
    SimulatorSummary& s = summary_;
    s.devices_requested = static_cast<int64_t>(devices_.size());
    s.duration_seconds = static_cast<double>(ending_ ? end_ms_ : NowMs()) / 1000.0;
    if (s.devices_enrolled < s.devices_requested) s.enroll_seconds = -1;
    s.checkins_per_second =
        s.duration_seconds > 0 ? static_cast<double>(s.checkins) / s.duration_seconds : 0;
    s.checkin_latency_ms = Summarize(std::move(checkin_latency_));
    s.enroll_latency_ms = Summarize(std::move(enroll_latency_));
    s.schedule_lag_ms = Summarize(std::move(lag_));
    for (const auto& d : devices_) {
      if (d.enrolled && !d.compliance.empty()) ++s.compliance[d.compliance];
    }
    return s;
  }

  SimulatorOptions options_;
  // Declared first so that it is destroyed last, after every socket and timer using it.
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<Pool> pool_;
  net::steady_timer tick_;
  net::steady_timer end_;
  net::steady_timer grace_;
  net::signal_set signals_;
  std::vector<std::shared_ptr<net::steady_timer>> retry_timers_;
  std::mt19937_64 rng_;
  std::vector<VDevice> devices_;
  using Due = std::pair<int64_t, uint32_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> schedule_;
  SteadyClock::time_point start_;
  double interval_ms_ = 60000;
  size_t max_sessions_ = 128;
  size_t next_enroll_ = 0;
  size_t enroll_inflight_ = 0;
  size_t sessions_ = 0;
  bool ending_ = false;
  int64_t end_ms_ = 0;
  std::vector<double> checkin_latency_;
  std::vector<double> enroll_latency_;
  std::vector<double> lag_;
  SimulatorSummary summary_;
};

nlohmann::json LatencyJson(const LatencySummary& l) {
  return {{"count", l.count}, {"p50", l.p50}, {"p90", l.p90}, {"p99", l.p99}, {"max", l.max}};
}

std::string FormatLatency(const LatencySummary& l) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << "p50 " << l.p50 << "  p90 " << l.p90 << "  p99 "
      << l.p99 << "  max " << l.max << "  (n=" << l.count << ")";
  return out.str();
}

std::string FormatCounts(const std::map<std::string, int64_t>& m) {
  if (m.empty()) return "none";
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ", ";
    out += k + " " + std::to_string(v);
  }
  return out;
}

}  // namespace

Result<SimulatorSummary> RunSimulation(const SimulatorOptions& options) {
  try {
    Simulation sim(options);
    return sim.Run();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("simulator failed: ") + e.what());
  }
}

std::string SummaryText(const SimulatorSummary& s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  out << "devices enrolled:   " << s.devices_enrolled << " of " << s.devices_requested;
  if (s.enroll_seconds >= 0) out << " in " << s.enroll_seconds << " s";
  out << "\n";
  out << "devices stopped:    " << s.devices_stopped << " (wiped or retired)\n";
  out << "duration:           " << s.duration_seconds << " s\n";
  out << "check-ins:          " << s.checkins << " (" << std::setprecision(2)
      << s.checkins_per_second << "/s)\n"
      << std::setprecision(1);
  out << "check-in latency:   " << FormatLatency(s.checkin_latency_ms) << " ms\n";
  out << "enroll latency:     " << FormatLatency(s.enroll_latency_ms) << " ms\n";
  out << "schedule lag:       " << FormatLatency(s.schedule_lag_ms) << " ms\n";
  out << "commands executed:  " << FormatCounts(s.commands_executed) << "\n";
  out << "command errors:     " << FormatCounts(s.command_errors) << "\n";
  out << "commands refused:   " << FormatCounts(s.commands_rejected) << "\n";
  out << "request errors:     " << FormatCounts(s.errors) << "\n";
  out << "compliance:         " << FormatCounts(s.compliance) << "\n";
  out << "apps downloaded:    " << s.apps_downloaded << " (" << s.bytes_downloaded << " bytes)\n";
  return out.str();
}

std::string SummaryJson(const SimulatorSummary& s) {
  nlohmann::json j = {
      {"devices_requested", s.devices_requested},
      {"devices_enrolled", s.devices_enrolled},
      {"devices_stopped", s.devices_stopped},
      {"duration_seconds", s.duration_seconds},
      {"enroll_seconds", s.enroll_seconds},
      {"checkins", s.checkins},
      {"checkins_per_second", s.checkins_per_second},
      {"checkin_latency_ms", LatencyJson(s.checkin_latency_ms)},
      {"enroll_latency_ms", LatencyJson(s.enroll_latency_ms)},
      {"schedule_lag_ms", LatencyJson(s.schedule_lag_ms)},
      {"commands_executed", s.commands_executed},
      {"command_errors", s.command_errors},
      {"commands_rejected", s.commands_rejected},
      {"errors", s.errors},
      {"compliance", s.compliance},
      {"apps_downloaded", s.apps_downloaded},
      {"bytes_downloaded", s.bytes_downloaded},
  };
  return j.dump() + "\n";
}

}  // namespace rampart::agent
