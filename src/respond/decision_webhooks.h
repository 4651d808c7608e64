// Decision webhooks: every block added or removed at the front door (ActionEngine's block
// observer) POSTed as a signed JSON decision to each configured receiver
// (`response.decision_webhooks`), so that firewalls, WAFs and SOAR platforms enforce it too.
// The body is respond::DecisionWebhookJson; signing, retries and the bounded queue are
// http::WebhookSender's, one per receiver, so a slow receiver delays only itself.
//
//   auto hooks = DecisionWebhooks::Create(config.response.decision_webhooks);
//   engine.SetBlockObserver([&](const BlockChange& c) { (*hooks)->Publish(c); });
//   ...
//   (*hooks)->Stop();
//
// Thread-safe. Secrets are read once at Create and never logged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "http/webhook_sender.h"
#include "respond/decisions.h"

namespace rampart::respond {

struct DecisionWebhookStats {
  std::string name;  // "host:port" of the receiver (the path may carry a token; never shown)
  http::WebhookStats stats;
};

class DecisionWebhooks {
 public:
  // One sender per entry. InvalidArgument naming the key ("response.decision_webhooks[1]
  // .secret_file") when a secret file cannot be read or is empty, or when the sender refuses
  // the options. An empty list gives an object that publishes nowhere.
  static Result<std::unique_ptr<DecisionWebhooks>> Create(
      const std::vector<DecisionWebhookConfig>& config);
  ~DecisionWebhooks();  // Stop()

  // Renders the decision once (one id for every receiver) and queues it for each; never waits.
  void Publish(const BlockChange& change);
  // Stops every sender (http::WebhookSender::Stop with `grace_ms` each). Idempotent.
  void Stop(int grace_ms = 2000);
  size_t size() const { return senders_.size(); }
  std::vector<DecisionWebhookStats> stats() const;
  // Prometheus text: rampart_decision_webhook_{delivered,failed,dropped,attempts}_total by
  // receiver; empty without receivers.
  std::string RenderMetrics() const;

 private:
  DecisionWebhooks() = default;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<http::WebhookSender>> senders_;
};

}  // namespace rampart::respond
