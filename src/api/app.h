// The application behind the HTTP front door: routes, authentication, authorization, handlers.
//
// One request's path: HttpServer parses and limits → App::Handle → Router::Match →
// Authenticate (bearer API token, or device signature for /device/v1) → the route's permission
// checked against the principal's role (core/permissions) → the handler, which reaches data
// only through store::Store with a Scope derived from the principal.
//
// Thread-safe: Handle() is called concurrently from the server's worker threads.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_sink.h"
#include "http/message.h"
#include "http/router.h"
#include "respond/evidence_capture.h"
#include "store/store.h"

namespace rampart::keeper {
class Keeper;
}
namespace rampart::respond {
class ActionEngine;
class MasterKeyRewrap;
class PlaybookRunner;
}  // namespace rampart::respond

namespace rampart::api {

struct AppOptions {
  Config config;
  std::string apps_dir;             // where app packages are kept, named by SHA-256
  std::string server_identity_key;  // raw Ed25519 public key, handed to devices at enrollment
  std::string tls_ca_fingerprint;   // hex SHA-256 of the CA certificate devices pin
  // The keeper (sealed staff data, command signing, audit log). Not owned. Null only in tests
  // that exercise no keeper-backed route: those routes then answer 503, never weaker behaviour.
  keeper::Keeper* keeper = nullptr;
  // Where security events go (the live detection engine). Not owned; null: nowhere. Emit never
  // blocks, so the request path does not wait for detection.
  EventSink* events = nullptr;
  // Extra Prometheus text for /metrics (the detection engine's and sinks' counters); optional.
  std::function<std::string()> extra_metrics;
  // Evidence capture (respond/evidence_capture.h): bundles under evidence.data_dir/evidence.
  // An empty data_dir leaves capture off: its routes answer 503 and capture_evidence fails.
  respond::EvidenceCaptureOptions evidence;
};

class Metrics;

class App {
 public:
  App(AppOptions options, store::Store* store, const Clock* clock);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  http::Response Handle(const http::Request& request);
  // Handle for a listener that serves only the routes whose patterns are listed (the metrics
  // listener: "/metrics", "/healthz"): any other is answered 404, and logged, counted and
  // handed to detection as every request is.
  http::Response HandleOnly(const http::Request& request,
                            std::span<const std::string_view> route_patterns);

  // Every route with its permission (tests compare this with docs/openapi.yaml and the roles).
  const std::vector<http::Route>& Routes() const;
  // Body limit for a route: uploads get max_upload_bytes, everything else max_body_bytes.
  uint64_t BodyLimit(std::string_view method, std::string_view path) const;
  // Called by the server when it cut a client off before a handler ran (counted in /metrics,
  // and an http.violation event), with the status it answered (0: none).
  void RecordViolation(std::string_view remote_ip, std::string_view reason, int status);
  // Periodic housekeeping: expires commands past their expiry, prunes the nonce cache, reports
  // expired address blocks (respond::ActionEngine::ExpireBlocks).
  void RunMaintenance();
  Metrics& metrics();
  // The response component's engine (blocks, lockdowns, revocations) and playbook runner,
  // owned by App because its routes use them; serve wires the denylist into the front door
  // and the runner into the alert pipeline.
  respond::ActionEngine& response();
  respond::PlaybookRunner& playbooks();
  // The master-key re-wrap job (null without a keeper); serve starts and stops its thread.
  respond::MasterKeyRewrap* master_key_rewrap();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::api
