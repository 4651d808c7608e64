#include "respond/decision_webhooks.h"

#include "common/json_util.h"

#include "common/files.h"
#include "core/model.h"

namespace rampart::respond {
namespace {

// "https://host:port/path?token=..." → "host:port": what metrics may show of a receiver.
std::string ReceiverName(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

Result<std::unique_ptr<DecisionWebhooks>> DecisionWebhooks::Create(
    const std::vector<DecisionWebhookConfig>& config) {
  std::unique_ptr<DecisionWebhooks> hooks(new DecisionWebhooks());
  for (size_t i = 0; i < config.size(); ++i) {
    const DecisionWebhookConfig& c = config[i];
    const std::string key = "response.decision_webhooks[" + std::to_string(i) + "]";
    http::WebhookOptions o;
    o.url = c.url;
    o.ca_file = c.ca_file;
    o.secret = c.secret;
    if (!c.secret_file.empty()) {
      auto secret = files::ReadWholeFile(c.secret_file, 64 * 1024);
      if (!secret.ok()) {
        return Status::InvalidArgument("config: '" + key + ".secret_file' cannot be read");
      }
      o.secret = std::move(secret).value();
      while (!o.secret.empty() && (o.secret.back() == '\n' || o.secret.back() == '\r')) {
        o.secret.pop_back();
      }
      if (o.secret.empty()) {
        return Status::InvalidArgument("config: '" + key + ".secret_file' is empty");
      }
    }
    o.max_attempts = static_cast<int>(c.max_attempts);
    o.initial_backoff_ms = static_cast<int>(c.initial_backoff_ms);
    o.timeout_ms = static_cast<int>(c.timeout_ms);
    o.user_agent = "rampart-decisions/1";
    auto sender = http::WebhookSender::Create(o, c.queue_capacity);
    if (!sender.ok()) {
      return Status::InvalidArgument("config: '" + key + "': " + sender.status().message());
    }
    hooks->names_.push_back(ReceiverName(c.url));
    hooks->senders_.push_back(std::move(sender).value());
  }
  return hooks;
}

DecisionWebhooks::~DecisionWebhooks() {
  Stop();
}

void DecisionWebhooks::Publish(const BlockChange& change) {
  if (senders_.empty()) return;
  // Never throws on odd bytes in a reason: this runs under the engine's block lock.
  const std::string body = jsonutil::Dump(DecisionWebhookJson(change, core::NewId("dec")));
  for (auto& s : senders_) s->Submit(body);
}

void DecisionWebhooks::Stop(int grace_ms) {
  for (auto& s : senders_) s->Stop(grace_ms);
}

std::vector<DecisionWebhookStats> DecisionWebhooks::stats() const {
  std::vector<DecisionWebhookStats> out;
  for (size_t i = 0; i < senders_.size(); ++i) out.push_back({names_[i], senders_[i]->stats()});
  return out;
}

std::string DecisionWebhooks::RenderMetrics() const {
  if (senders_.empty()) return "";
  const auto all = stats();
  std::string out;
  auto family = [&](std::string_view name, uint64_t http::WebhookStats::*field) {
    out.append("# TYPE ").append(name).append(" counter\n");
    for (size_t i = 0; i < all.size(); ++i) {
      out.append(name)
          .append("{webhook=\"")
          .append(std::to_string(i))
          .append("\",receiver=\"")
          .append(all[i].name)
          .append("\"} ")
          .append(std::to_string(all[i].stats.*field))
          .append("\n");
    }
  };
  family("rampart_decision_webhook_delivered_total", &http::WebhookStats::delivered);
  family("rampart_decision_webhook_failed_total", &http::WebhookStats::failed);
  family("rampart_decision_webhook_dropped_total", &http::WebhookStats::dropped);
  family("rampart_decision_webhook_attempts_total", &http::WebhookStats::attempts);
  return out;
}

}  // namespace rampart::respond
