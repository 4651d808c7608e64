#include "api/app.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "api/identity.h"
#include "api/internal.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/device_signing.h"
#include "core/permissions.h"
#include "respond/playbook_runner.h"

namespace rampart::api {

using internal::Call;
using internal::Principal;
using nlohmann::json;

class App::Impl {
 public:
  Impl(AppOptions options, store::Store* store, const Clock* clock)
      : nonces_(2 * static_cast<int64_t>(options.config.device_clock_skew_seconds)),
        denylist_(clock) {
    ctx_.options = std::move(options);
    ctx_.store = store;
    ctx_.clock = clock;
    ctx_.metrics = &metrics_;
    ctx_.nonces = &nonces_;
    respond::ActionEngineOptions engine_options;
    engine_options.max_attempts =
        static_cast<int>(ctx_.options.config.response.action_max_attempts);
    engine_options.initial_backoff_ms = ctx_.options.config.response.action_backoff_ms;
    engine_options.lift_request_ttl_seconds = ctx_.options.config.response.lift_request_ttl_seconds;
    engine_options.never_block = ctx_.options.config.response.never_block;
    // A trusted proxy is the peer of everyone behind it: blocking it would refuse them all.
    for (const std::string& proxy : ctx_.options.config.http_forwarding.trusted_proxies) {
      engine_options.never_block.push_back(proxy);
    }
    // Nor a proxy in front of the servers whose logs are read: a line of its that names no
    // client stays the proxy's, and a block on its alert would refuse every client behind it.
    for (const std::string& proxy : ctx_.options.config.detection.log_trusted_proxies) {
      engine_options.never_block.push_back(proxy);
    }
    response_ = std::make_unique<respond::ActionEngine>(store, ctx_.options.keeper, clock,
                                                        &denylist_, &lockdowns_, engine_options);
    if (Status loaded = response_->Load(); !loaded.ok()) {
      log::Error("response.load_failed", {{"error", loaded.message()}});
    }
    if (!ctx_.options.evidence.data_dir.empty()) {
      evidence_ = std::make_unique<respond::EvidenceCollector>(store, ctx_.options.keeper, clock,
                                                               ctx_.options.evidence);
      response_->SetEvidenceCollector(evidence_.get());
      ctx_.evidence = evidence_.get();
    }
    if (ctx_.options.keeper != nullptr) {
      rewrap_ = std::make_unique<respond::MasterKeyRewrap>(store, ctx_.options.keeper, clock);
      response_->SetMasterKeyRewrap(rewrap_.get());
      ctx_.rewrap = rewrap_.get();
    }
    runner_ = std::make_unique<respond::PlaybookRunner>(response_.get(), clock);
    ctx_.response = response_.get();
    ctx_.runner = runner_.get();
    RegisterRoutes();
  }

  // `only`: the route patterns served; empty, every route.
  http::Response Handle(const http::Request& req, std::span<const std::string_view> only = {});
  const std::vector<http::Route>& Routes() const { return table_.router().Routes(); }
  Metrics& metrics() { return metrics_; }
  internal::Context& ctx() { return ctx_; }
  respond::ActionEngine& response() { return *response_; }
  respond::PlaybookRunner& runner() { return *runner_; }
  respond::MasterKeyRewrap* rewrap() { return rewrap_.get(); }
  NonceCache& nonces() { return nonces_; }

 private:
  void RegisterRoutes();
  Result<Principal> AuthenticateToken(const http::Request& req);
  Result<Principal> AuthenticateSession(const http::Request& req);
  // A bearer token when the request carries an Authorization header, else a session cookie.
  Result<Principal> AuthenticateAdmin(const http::Request& req);
  Result<Principal> AuthenticateDevice(const http::Request& req);
  // Names the API token a request carries (by id, never by secret) on its event, valid or not.
  void NameBearerToken(const http::Request& req, SecurityEvent* ev);
  // True when a lockdown forbids the request (answered 423).
  bool LockedOut(const http::Request& req, const http::Route& route, const http::PathParams& params,
                 const Principal& principal) const;
  // The institutions a request names: the path's institution, ?institution_id=, the body's
  // "institution_id" and the owner of each object the path names. Objects that do not exist
  // name nothing (the handler answers 404).
  std::vector<std::string> NamedInstitutions(const http::Request& req, const http::Route& route,
                                             const http::PathParams& params) const;
  http::Response Health(const Call&) const;
  http::Response MetricsPage(const Call&) const;

  internal::Context ctx_;
  internal::RouteTable table_;
  Metrics metrics_;
  NonceCache nonces_;
  respond::Denylist denylist_;
  respond::LockdownState lockdowns_;
  std::unique_ptr<respond::EvidenceCollector> evidence_;  // before the engine that uses it
  std::unique_ptr<respond::MasterKeyRewrap> rewrap_;      // likewise
  std::unique_ptr<respond::ActionEngine> response_;
  std::unique_ptr<respond::PlaybookRunner> runner_;
};

void App::Impl::RegisterRoutes() {
  table_.Add("GET", "/healthz", std::string(core::kPublic),
             [this](const Call& c) { return Health(c); });
  table_.Add("GET", "/metrics", "metrics.read", [this](const Call& c) { return MetricsPage(c); });
  internal::RegisterInstitutionRoutes(table_, ctx_);
  internal::RegisterCommandKeyRoutes(table_, ctx_);
  internal::RegisterMasterKeyRoutes(table_, ctx_);
  internal::RegisterStaffExportRoutes(table_, ctx_);
  internal::RegisterStaffRoutes(table_, ctx_);
  internal::RegisterDeviceRoutes(table_, ctx_);
  internal::RegisterCommandRoutes(table_, ctx_);
  internal::RegisterApprovalRoutes(table_, ctx_);
  internal::RegisterGroupRoutes(table_, ctx_);
  internal::RegisterEnrollmentRoutes(table_, ctx_);
  internal::RegisterPolicyRoutes(table_, ctx_);
  internal::RegisterAppRoutes(table_, ctx_);
  internal::RegisterComplianceRoutes(table_, ctx_);
  internal::RegisterTokenRoutes(table_, ctx_);
  internal::RegisterAuthRoutes(table_, ctx_);
  internal::RegisterUserRoutes(table_, ctx_);
  internal::RegisterDeviceProtocolRoutes(table_, ctx_);
  internal::RegisterAlertRoutes(table_, ctx_);
  internal::RegisterIncidentRoutes(table_, ctx_);
  internal::RegisterBlockRoutes(table_, ctx_);
  internal::RegisterLockdownRoutes(table_, ctx_);
  internal::RegisterCommandBatchRoutes(table_, ctx_);
}

namespace {

// The staff lookup's query names a person (?mobile=..., ?email=...): the request's event, which
// reaches alert evidence and every alert sink, keeps the parameters without their values. Names
// are compared decoded, as Request::QueryParam reads them.
std::string QueryWithoutPersonalValues(std::string_view path, std::string_view query) {
  if (path != "/api/v1/staff" && path != "/api/v1/staff/") return std::string(query);
  std::string out;
  std::string_view rest = query;
  for (bool first = true; first || !rest.empty(); first = false) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (!first) out.push_back('&');
    const size_t eq = pair.find('=');
    auto name = http::PercentDecode(pair.substr(0, eq), true);
    if (eq != std::string_view::npos && name.ok() && (*name == "mobile" || *name == "email")) {
      out.append(pair.substr(0, eq + 1)).append("REDACTED");
    } else {
      out.append(pair);
    }
  }
  return out;
}

constexpr const char* kLockedMessage =
    "in lockdown: the admin API is read-only, staff data cannot be revealed or exported, and "
    "enrollment is closed (docs/incident-response.md says how to leave it)";

// Routes that stay open in lockdown: leaving it, the approvals that are its break-glass path,
// containment itself, and signing in and out.
bool OpenInLockdown(const http::Route& route) {
  const std::string& p = route.pattern;
  auto ends_with = [&p](std::string_view s) {
    return p.size() >= s.size() && p.compare(p.size() - s.size(), s.size(), s) == 0;
  };
  return p.rfind("/api/v1/lockdown", 0) == 0 || p.find("/lockdown") != std::string::npos ||
         (p == "/api/v1/blocks" && route.method == "POST") ||
         // Preserving evidence is what a lockdown is for: it changes nothing an intruder can use.
         (p == "/api/v1/incidents/{id}/evidence" && route.method == "POST") ||
         p.rfind("/api/v1/response/", 0) == 0 ||
         (p.rfind("/api/v1/commands/", 0) == 0 &&
          (ends_with("/approve") || ends_with("/reject"))) ||
         p == "/api/v1/command-batches/{id}/pause" || p == "/api/v1/apps/{id}/quarantine" ||
         route.permission == core::kAccountSelf;
}

}  // namespace

std::vector<std::string> App::Impl::NamedInstitutions(const http::Request& req,
                                                      const http::Route& route,
                                                      const http::PathParams& params) const {
  std::vector<std::string> out;
  if (std::string inst; req.QueryParam("institution_id", &inst) && !inst.empty()) {
    out.push_back(inst);
  }
  if (!req.body.empty()) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_object() && body.contains("institution_id") && body["institution_id"].is_string()) {
      out.push_back(body["institution_id"].get<std::string>());
    }
  }
  auto param = [&params](std::string_view name) -> std::string {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };
  const std::string id = param("id");
  store::Store& st = *ctx_.store;
  const store::Scope all = store::Scope::All();
  auto add = [&out](const auto& found) {
    if (found.ok()) out.push_back(found->institution_id);
  };
  // The resource a path names, by the prefix of its route; the first match wins, so
  // "/api/v1/staff/exports/{id}" comes before "/api/v1/staff/{id}".
  using Lookup = std::function<void()>;
  const std::pair<std::string_view, Lookup> resources[] = {
      {"/api/v1/institutions/{id}", [&] { out.push_back(id); }},
      {"/api/v1/devices/{id}", [&] { add(st.GetDevice(all, id)); }},
      {"/api/v1/groups/{id}", [&] { add(st.GetGroup(all, id)); }},
      {"/api/v1/policies/{id}", [&] { add(st.GetPolicy(all, id)); }},
      {"/api/v1/apps/{id}", [&] { add(st.GetApp(all, id)); }},
      {"/api/v1/staff/exports/{id}", [&] { add(st.GetStaffExport(all, id)); }},
      {"/api/v1/staff/{id}", [&] { add(st.GetStaff(all, id)); }},
      {"/api/v1/users/{id}", [&] { add(st.GetAdminUser(all, id)); }},
      {"/api/v1/alerts/{id}", [&] { add(st.GetAlert(all, id)); }},
      {"/api/v1/incidents/{id}", [&] { add(st.GetIncident(all, id)); }},
      {"/api/v1/command-batches/{id}", [&] { add(st.GetCommandBatch(all, id)); }},
      {"/api/v1/tokens/{id}", [&] { add(st.GetApiToken(id)); }},
  };
  for (const auto& [prefix, lookup] : resources) {
    if (!id.empty() && route.pattern.rfind(prefix, 0) == 0) {
      lookup();
      break;
    }
  }
  if (std::string device = param("device_id"); !device.empty()) add(st.GetDevice(all, device));
  // An institution's own block (a server block names none: removing it is a server matter).
  if (std::string block = param("block_id"); !block.empty()) {
    int64_t block_id = 0;
    auto [end, ec] = std::from_chars(block.data(), block.data() + block.size(), block_id);
    if (ec == std::errc() && end == block.data() + block.size()) {
      auto found = st.GetAddressBlock(block_id);
      if (found.ok() && !found->institution_id.empty()) out.push_back(found->institution_id);
    }
  }
  return out;
}

bool App::Impl::LockedOut(const http::Request& req, const http::Route& route,
                          const http::PathParams& params, const Principal& principal) const {
  if (route.pattern == "/device/v1/enroll") {
    // The enrollment token's institution is checked by the handler; a server lockdown closes
    // every institution at once.
    return lockdowns_.ServerLocked();
  }
  if (principal.kind != Principal::Kind::kApiToken && principal.kind != Principal::Kind::kSession) {
    return false;  // devices keep checking in
  }
  // Clear staff fields are also read through ?reveal= on the staff routes.
  std::string reveal;
  const bool discloses =
      route.permission == "staff.reveal" || route.permission == "staff.export" ||
      (req.QueryParam("reveal", &reveal) && !reveal.empty() && reveal != "false");
  const bool writes = req.method != "GET" && req.method != "HEAD" && !OpenInLockdown(route);
  if (!discloses && !writes) return false;
  if (lockdowns_.IsLocked(principal.institution_id)) return true;
  // A superadmin's tokens span institutions: a locked institution holds them too, for whatever
  // the request names in it. A disclosure that names no institution reads all of them.
  if (!core::IsCrossInstitution(principal.role) || !lockdowns_.AnyLocked()) return false;
  const std::vector<std::string> named = NamedInstitutions(req, route, params);
  if (named.empty()) return discloses;
  for (const auto& inst : named) {
    if (lockdowns_.IsLocked(inst)) return true;
  }
  return false;
}

http::Response App::Impl::Health(const Call&) const {
  return internal::JsonResponse(200, json{{"status", "ok"}});
}

http::Response App::Impl::MetricsPage(const Call&) const {
  std::string extra;
  auto by_state = ctx_.store->CountCommandsByState();
  if (by_state.ok()) {
    extra += "# TYPE rampart_commands gauge\n";
    for (const auto& [state, n] : *by_state) {
      extra += "rampart_commands{state=\"" + std::string(core::ToString(state)) + "\"} " +
               std::to_string(n) + "\n";
    }
  }
  auto devices = ctx_.store->CountDevices(store::Scope::All());
  if (devices.ok()) {
    extra += "# TYPE rampart_devices gauge\nrampart_devices " + std::to_string(*devices) + "\n";
  }
  extra += "# TYPE rampart_device_nonces gauge\nrampart_device_nonces " +
           std::to_string(nonces_.size()) + "\n";
  // Proof that a block holds: connections and forwarded requests it turned away.
  extra += "# TYPE rampart_denylist_entries gauge\nrampart_denylist_entries " +
           std::to_string(denylist_.size()) + "\n";
  extra += "# TYPE rampart_denylist_refusals_total counter\nrampart_denylist_refusals_total " +
           std::to_string(denylist_.refused()) + "\n";
  if (ctx_.options.extra_metrics) extra += ctx_.options.extra_metrics();
  http::Response r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_.RenderPrometheus(extra);
  return r;
}

Result<Principal> App::Impl::AuthenticateToken(const http::Request& req) {
  std::string_view auth = req.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer) {
    metrics_.Increment("rampart_auth_failures_total", "reason", "missing_token");
    return Status::Unauthenticated("missing bearer token");
  }
  std::string_view secret = auth.substr(kBearer.size());
  if (secret.size() > 256) {
    metrics_.Increment("rampart_auth_failures_total", "reason", "bad_token");
    return Status::Unauthenticated("invalid or expired token");
  }
  auto token = ctx_.store->FindApiTokenByHash(crypto::Sha256Hex(secret));
  int64_t now = ctx_.Now();
  if (!token.ok() || token->revoked || (token->expires_at != 0 && token->expires_at <= now)) {
    metrics_.Increment("rampart_auth_failures_total", "reason", "bad_token");
    log::Warn("auth.token_rejected",
              {{"remote_ip", req.remote_ip}, {"request_id", req.request_id}});
    SecurityEvent ev("auth.token_rejected");
    ev.Set("source.ip", req.remote_ip)
        .Set("http.request.id", req.request_id)
        .Set("url.path", req.path)
        .Set("user_agent.original", req.Header("user-agent"));
    // A known but revoked or expired token names itself by id (never by secret), so that a
    // canary token is caught even after it was revoked.
    if (token.ok()) {
      ev.Set("user.name", token->id);
      ev.institution_id = token->institution_id;
    }
    internal::EmitEvent(ctx_, std::move(ev));
    return Status::Unauthenticated("invalid or expired token");
  }
  // Investigations ask when a token was last used; once a minute is precise enough and keeps a
  // write off most requests.
  if (now - token->last_used_at >= 60) ctx_.store->TouchApiToken(token->id, now).IgnoreError();
  Principal p;
  p.kind = Principal::Kind::kApiToken;
  p.id = token->id;
  p.person_id = token->owner_id.empty() ? token->id : token->owner_id;
  p.expires_at = token->expires_at;
  p.role = token->role;
  p.institution_id = token->institution_id;
  return p;
}

Result<Principal> App::Impl::AuthenticateSession(const http::Request& req) {
  auto reject = [&](std::string_view reason) -> Status {
    metrics_.Increment("rampart_auth_failures_total", "reason", reason);
    log::Warn("auth.session_rejected",
              {{"reason", reason}, {"remote_ip", req.remote_ip}, {"request_id", req.request_id}});
    return Status::Unauthenticated("not signed in, or the session has ended");
  };
  std::string secret = internal::SessionSecretFrom(req);
  if (secret.empty()) {
    metrics_.Increment("rampart_auth_failures_total", "reason", "missing_token");
    return Status::Unauthenticated("missing bearer token or session cookie");
  }
  auto session = ctx_.store->FindAdminSessionByHash(crypto::Sha256Hex(secret));
  if (!session.ok()) return reject("bad_session");
  const auto& config = ctx_.options.config;
  int64_t now = ctx_.Now();
  if (now >= session->expires_at ||
      now - session->last_seen_at >= static_cast<int64_t>(config.session_idle_timeout_seconds)) {
    // Ended sessions are deleted now rather than at the next maintenance run.
    ctx_.store->DeleteAdminSession(session->id).IgnoreError();
    return reject("session_expired");
  }
  auto user = ctx_.store->GetAdminUser(store::Scope::All(), session->user_id);
  if (!user.ok() || user->disabled) return reject("user_disabled");
  // Cookies ride along on every request the browser sends, including ones another site
  // triggers: anything that is not a plain read must also prove it came from the console.
  bool safe_method = req.method == "GET" || req.method == "HEAD";
  if (!safe_method && !crypto::ConstantTimeEqual(req.Header(internal::kCsrfHeader),
                                                 internal::CsrfTokenFor(secret))) {
    metrics_.Increment("rampart_auth_failures_total", "reason", "csrf");
    log::Warn("auth.csrf_rejected", {{"remote_ip", req.remote_ip}, {"request_id", req.request_id}});
    return Status::PermissionDenied("missing or wrong X-Rampart-CSRF header");
  }
  // Idle time is measured in steps of ten seconds, which keeps a write off most requests.
  if (now - session->last_seen_at >= 10) {
    ctx_.store->TouchAdminSession(session->id, now).IgnoreError();
  }
  Principal p;
  p.kind = Principal::Kind::kSession;
  p.id = user->id;
  p.person_id = user->id;
  p.role = user->role;
  p.institution_id = user->institution_id;
  p.session_id = session->id;
  p.session_expires_at = session->expires_at;
  p.mfa_setup_required = internal::RoleRequiresMfa(user->role) && !user->totp_enabled();
  p.csrf_token = internal::CsrfTokenFor(secret);
  return p;
}

Result<Principal> App::Impl::AuthenticateAdmin(const http::Request& req) {
  if (!req.Header("authorization").empty()) return AuthenticateToken(req);
  return AuthenticateSession(req);
}

Result<Principal> App::Impl::AuthenticateDevice(const http::Request& req) {
  std::string device_id(req.Header(core::kDeviceHeader));
  // The device named, once its header is known to be well-formed; and its institution once
  // it is known to exist.
  std::string_view claimed;
  std::string institution_id;
  auto fail = [&](std::string_view reason) -> Status {
    metrics_.Increment("rampart_device_auth_failures_total", "reason", reason);
    log::Warn("auth.device_rejected",
              {{"reason", reason}, {"remote_ip", req.remote_ip}, {"request_id", req.request_id}});
    // An event too: forged or replayed device requests are what the bundled rules look for.
    SecurityEvent ev("auth.device_rejected");
    ev.Set("event.reason", reason)
        .Set("source.ip", req.remote_ip)
        .Set("http.request.id", req.request_id)
        .Set("http.request.method", req.method)
        .Set("url.path", req.path);
    if (!claimed.empty()) ev.Set("device.id", claimed);
    ev.institution_id = institution_id;
    internal::EmitEvent(ctx_, std::move(ev));
    return Status::Unauthenticated("device request signature rejected");
  };
  std::string_view ts_text = req.Header(core::kTimestampHeader);
  std::string nonce(req.Header(core::kNonceHeader));
  std::string_view sig_b64 = req.Header(core::kSignatureHeader);
  if (device_id.empty() || ts_text.empty() || nonce.empty() || sig_b64.empty()) {
    return fail("missing_headers");
  }
  if (device_id.size() > 64 || nonce.size() != 32 || ts_text.size() > 12) {
    return fail("malformed_headers");
  }
  for (char ch : nonce) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return fail("malformed_headers");
  }
  if (std::all_of(device_id.begin(), device_id.end(), [](char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               ch == '_' || ch == '-';
      })) {
    claimed = device_id;  // an id's shape ("dev_..."): safe to name in an event
  }
  int64_t ts = 0;
  for (char ch : ts_text) {
    if (ch < '0' || ch > '9') return fail("malformed_headers");
    ts = ts * 10 + (ch - '0');
  }
  int64_t now = ctx_.Now();
  int64_t skew = ctx_.options.config.device_clock_skew_seconds;
  if (ts < now - skew || ts > now + skew) return fail("stale_timestamp");
  auto sig = crypto::Base64Decode(sig_b64);
  if (!sig.ok()) return fail("malformed_signature");
  auto device = ctx_.store->GetDevice(store::Scope::All(), device_id);
  if (!device.ok()) return fail("unknown_device");
  institution_id = device->institution_id;
  // A retired phone that still checks in is no forgery: a reason of its own.
  if (device->status != core::DeviceStatus::kActive || device->public_key.empty()) {
    return fail("retired_device");
  }
  std::string message = core::DeviceSigningString(req.method, req.target, ts, nonce,
                                                  crypto::Sha256Hex(req.body), device_id);
  if (!crypto::VerifyEd25519(device->public_key, message, *sig)) return fail("bad_signature");
  // Only a verified request may consume a nonce, so garbage cannot evict or pre-empt nonces.
  if (!nonces_.Remember(device_id, nonce, now)) return fail("replayed_nonce");
  Principal p;
  p.kind = Principal::Kind::kDevice;
  p.id = device_id;
  p.person_id = device_id;
  p.institution_id = device->institution_id;
  p.device = std::move(device).value();
  return p;
}

void App::Impl::NameBearerToken(const http::Request& req, SecurityEvent* ev) {
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view auth = req.Header("authorization");
  if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer) return;
  std::string_view secret = auth.substr(kBearer.size());
  if (secret.size() > 256) return;
  auto token = ctx_.store->FindApiTokenByHash(crypto::Sha256Hex(secret));
  if (!token.ok()) return;
  ev->Set("user.name", token->id);
  if (ev->institution_id.empty()) ev->institution_id = token->institution_id;
}

http::Response App::Impl::Handle(const http::Request& req, std::span<const std::string_view> only) {
  auto started = std::chrono::steady_clock::now();
  http::RouteMatch match = table_.router().Match(req.method, req.path);
  const bool not_served = !only.empty() && match.route != nullptr &&
                          std::find(only.begin(), only.end(), match.route->pattern) == only.end();
  if (not_served) match = http::RouteMatch{};
  std::string route_label = match.route ? match.route->pattern : "unmatched";
  http::Response response;
  Principal principal;
  // An admin authentication (token or session) was attempted, and its events emitted.
  bool admin_checked = false;
  if (!req.query.empty() && !http::PercentDecode(req.query, true).ok()) {
    response = http::Response::Error(Status::InvalidArgument("malformed query string"));
  } else if (match.route == nullptr) {
    response =
        match.path_matched_other_method
            ? http::Response::Error(405, "method_not_allowed", "method not allowed")
            : http::Response::Error(404, "not_found",
                                    not_served ? "not served on this listener" : "no such route");
  } else {
    const std::string& permission = match.route->permission;
    Status auth_status;
    admin_checked = permission != core::kPublic && permission != core::kDevice;
    if (permission == core::kDevice) {
      auto p = AuthenticateDevice(req);
      if (p.ok()) principal = std::move(p).value();
      auth_status = p.ok() ? Status::Ok() : p.status();
    } else if (permission != core::kPublic) {
      auto p = AuthenticateAdmin(req);
      if (p.ok()) {
        principal = std::move(p).value();
        if (!core::RoleHasPermission(principal.role, permission)) {
          metrics_.Increment("rampart_auth_failures_total", "reason", "forbidden");
          auth_status = Status::PermissionDenied("this role may not do that");
        } else if (principal.mfa_setup_required && permission != core::kAccountSelf) {
          metrics_.Increment("rampart_auth_failures_total", "reason", "mfa_setup_required");
          auth_status = Status::PermissionDenied(
              "set up two-factor authentication first (POST /api/v1/auth/totp)");
        }
      } else {
        auth_status = p.status();
      }
    }
    if (!auth_status.ok()) {
      response = http::Response::Error(auth_status);
    } else if (LockedOut(req, *match.route, match.params, principal)) {
      metrics_.Increment("rampart_lockdown_refusals_total", "route", route_label);
      response = http::Response::Error(423, "locked", kLockedMessage);
    } else {
      Call call{req, match.params, principal};
      try {
        response = table_.HandlerFor(match.route)(call);
      } catch (const std::exception& e) {
        log::Error("api.handler_exception",
                   {{"route", route_label}, {"request_id", req.request_id}});
        response = http::Response::Error(Status::Internal("internal error"));
      }
    }
  }
  int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  // Only known methods become label values: arbitrary method tokens from the network must not
  // grow the metric series without bound.
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  std::string_view method_label = "other";
  for (auto m : kMethods) {
    if (req.method == m) method_label = m;
  }
  metrics_.ObserveRequest(method_label, route_label, response.status, us);
  if (ctx_.options.events != nullptr) {
    SecurityEvent ev("http.request");
    const std::string query = QueryWithoutPersonalValues(req.path, req.query);
    ev.Set("source.ip", req.remote_ip)
        .Set("http.request.method", req.method)
        .Set("url.original", query == req.query ? req.target : req.path + "?" + query)
        .Set("url.path", req.path)
        .Set("http.response.status_code", std::to_string(response.status))
        .Set("http.request.id", req.request_id)
        .Set("event.duration", std::to_string(us * 1000));
    if (!query.empty()) ev.Set("url.query", query);
    if (std::string_view ua = req.Header("user-agent"); !ua.empty()) {
      ev.Set("user_agent.original", ua);
    }
    if (!principal.id.empty()) {
      ev.Set(principal.kind == Principal::Kind::kDevice ? "device.id" : "user.name", principal.id);
      ev.institution_id = principal.institution_id;
      ev.actor_institution_id = principal.institution_id;
    }
    if (!admin_checked &&
        (principal.kind == Principal::Kind::kNone || principal.kind == Principal::Kind::kDevice)) {
      // A bearer token sent where none is checked (an unknown, public or device route, a
      // malformed query) is still a use of it: a canary token tried against /healthz must be
      // caught.
      NameBearerToken(req, &ev);
    }
    internal::EmitEvent(ctx_, std::move(ev));
  }
  log::Info("http.request", {{"request_id", req.request_id},
                             {"remote_ip", req.remote_ip},
                             {"peer_ip", req.peer_ip},
                             {"method", method_label},
                             {"route", route_label},
                             {"status", response.status},
                             {"principal", principal.id},
                             {"duration_us", us}});
  return response;
}

App::App(AppOptions options, store::Store* store, const Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(options), store, clock)) {}
App::~App() = default;

http::Response App::Handle(const http::Request& request) {
  return impl_->Handle(request);
}
http::Response App::HandleOnly(const http::Request& request,
                               std::span<const std::string_view> route_patterns) {
  return impl_->Handle(request, route_patterns);
}
const std::vector<http::Route>& App::Routes() const {
  return impl_->Routes();
}
Metrics& App::metrics() {
  return impl_->metrics();
}
respond::ActionEngine& App::response() {
  return impl_->response();
}
respond::PlaybookRunner& App::playbooks() {
  return impl_->runner();
}
respond::MasterKeyRewrap* App::master_key_rewrap() {
  return impl_->rewrap();
}

uint64_t App::BodyLimit(std::string_view method, std::string_view path) const {
  const auto& limits = impl_->ctx().options.config.http;
  if (method == "POST" && path == "/api/v1/apps") return limits.max_upload_bytes;
  return limits.max_body_bytes;
}

void App::RecordViolation(std::string_view remote_ip, std::string_view reason, int status) {
  impl_->metrics().Increment("rampart_http_violations_total", "reason", reason);
  log::Warn("http.violation", {{"remote_ip", remote_ip}, {"reason", reason}});
  // The front door answers these itself, before App::Handle: without this they would be the
  // only requests the engine never sees (malformed exploit attempts, floods).
  SecurityEvent ev("http.violation");
  ev.Set("source.ip", std::string(remote_ip)).Set("http.violation.reason", std::string(reason));
  if (status != 0) ev.Set("http.response.status_code", std::to_string(status));
  internal::EmitEvent(impl_->ctx(), std::move(ev));
}

void App::RunMaintenance() {
  auto& ctx = impl_->ctx();
  int64_t now = ctx.Now();
  auto expired = ctx.store->ExpireCommands(now);
  if (expired.ok() && *expired > 0) {
    ctx.metrics->Increment("rampart_commands_expired_total", {}, {}, *expired);
    log::Info("commands.expired", {{"count", *expired}});
  }
  impl_->nonces().Prune(now);
  // Expired blocks are announced to the decision webhooks and leave the denylist.
  if (auto ended = impl_->response().ExpireBlocks(); !ended.ok()) {
    log::Error("response.expiry_failed", {{"error", ended.status().message()}});
  }
  if (ctx.evidence != nullptr && ctx.options.config.response.evidence_retention_days > 0) {
    auto pruned = ctx.evidence->Prune(now, ctx.options.config.response.evidence_retention_days);
    if (!pruned.ok()) {
      log::Error("evidence.prune_failed", {{"error", pruned.status().message()}});
    } else if (!pruned->empty()) {
      ctx.metrics->Increment("rampart_evidence_bundles_pruned_total", {}, {},
                             static_cast<int64_t>(pruned->size()));
    }
  }
  auto stale = ctx.store->DeleteStaleAdminSessions(
      now, now - static_cast<int64_t>(ctx.options.config.session_idle_timeout_seconds));
  if (stale.ok() && *stale > 0) log::Info("sessions.expired", {{"count", *stale}});
}

}  // namespace rampart::api
