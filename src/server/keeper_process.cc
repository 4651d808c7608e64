#include "server/keeper_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "audit/log.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/log.h"
#include "keeper/client.h"
#include "keeper/log_trail.h"
#include "keeper/service.h"
#include "keeper/socket_server.h"

namespace rampart::server {
namespace {

int FailKeeper(const std::string& message) {
  std::cerr << "rampart keeper: " << message << "\n";
  log::Error("keeper.failed", {{"reason", message}});
  return 1;
}

// Until the log is open (it needs the checkpoint key the service loads), nothing may append.
class DeferredTrail : public keeper::AuditTrail {
 public:
  keeper::AuditTrail* target = nullptr;
  Result<audit::Record> Append(const audit::Record& record) override {
    if (target == nullptr) return Status::Unavailable("audit log not open yet");
    return target->Append(record);
  }
  Result<keeper::Checkpoint> MakeCheckpoint(const keeper::CheckpointSigner& sign) override {
    if (target == nullptr) return Status::Unavailable("audit log not open yet");
    return target->MakeCheckpoint(sign);
  }
  Result<std::vector<audit::Record>> Read(int64_t from, int64_t max_records) override {
    if (target == nullptr) return Status::Unavailable("audit log not open yet");
    return target->Read(from, max_records);
  }
  Result<std::vector<keeper::AuditProof>> Prove(const std::vector<int64_t>& indexes,
                                                int64_t tree_size) override {
    if (target == nullptr) return Status::Unavailable("audit log not open yet");
    return target->Prove(indexes, tree_size);
  }
};

keeper::KeeperOptions KeeperOptionsFrom(const Config& config, const std::string& key_dir) {
  keeper::KeeperOptions o;
  o.key_dir = key_dir;
  const KeeperSettings& k = config.keeper;
  o.decrypt_budget_per_minute = {{"superadmin", k.budget_superadmin},
                                 {"admin", k.budget_admin},
                                 {"helpdesk", k.budget_helpdesk},
                                 {"analyst", k.budget_analyst},
                                 {"auditor", k.budget_auditor}};
  o.max_destructive_per_hour = k.max_destructive_commands_per_hour;
  o.mass_command_threshold = config.mass_command_threshold;
  o.export_records_per_day = k.export_records_per_day;
  return o;
}

}  // namespace

std::string DefaultKeeperSocket(const std::string& data_dir) {
  return data_dir + "/run/keeper.sock";
}

int RunKeeper(const KeeperProcessOptions& options) {
  if (!crypto::InitCrypto().ok()) return FailKeeper("cannot initialise cryptography");
  Config config;
  if (!options.config_file.empty()) {
    Status s = LoadConfigFile(options.config_file, &config);
    if (!s.ok()) return FailKeeper(s.message());
  }
  std::string socket_path =
      options.socket_path.empty() ? DefaultKeeperSocket(options.data_dir) : options.socket_path;
  std::string key_dir = options.data_dir + "/keeper";
  if (Status s = files::EnsurePrivateDirectory(key_dir); !s.ok()) return FailKeeper(s.message());
  std::string socket_dir = socket_path.substr(0, socket_path.rfind('/'));
  if (!socket_dir.empty() && socket_dir != socket_path) {
    if (Status s = files::EnsurePrivateDirectory(socket_dir); !s.ok())
      return FailKeeper(s.message());
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // A hangup of serve's terminal or process group (serve reloads detection on it) must not
  // stop the keeper: taken here, it only brings the next checkpoint forward.
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  DeferredTrail trail;
  auto service = keeper::KeeperService::Open(KeeperOptionsFrom(config, key_dir), &trail,
                                             &SystemClock::Instance());
  if (!service.ok()) return FailKeeper("cannot open keys: " + service.status().message());
  auto checkpoint_key = (*service)->CheckpointPublicKey();
  if (!checkpoint_key.ok()) return FailKeeper(checkpoint_key.status().message());
  audit::LogOptions log_options;
  log_options.checkpoint_public_key = *checkpoint_key;
  log_options.mirror_path = config.keeper.audit_mirror_file;
  log_options.sync_each_append = config.keeper.audit_sync_each_append;
  log_options.syslog_target = config.keeper.audit_syslog;
  auto log = audit::Log::Open(key_dir + "/audit", log_options);
  if (!log.ok()) return FailKeeper("cannot open the audit log: " + log.status().message());
  keeper::LogTrail log_trail(log->get());
  trail.target = &log_trail;

  auto server = keeper::SocketServer::Start(service->get(), {socket_path, 64});
  if (!server.ok()) return FailKeeper(server.status().message());
  log::Info("keeper.started", {{"socket", socket_path}, {"audit_records", (*log)->size()}});

  int64_t checkpointed_size = -1;
  auto checkpoint = [&] {
    if ((*log)->size() == checkpointed_size) return;
    auto cp = (*service)->MakeCheckpoint();
    if (cp.ok()) {
      checkpointed_size = cp->tree_size;
    } else {
      log::Error("keeper.checkpoint_failed", {{"error", cp.status().message()}});
    }
  };
  checkpoint();
  int64_t interval = config.keeper.checkpoint_interval_seconds;
  for (;;) {
    timespec timeout{static_cast<time_t>(interval), 0};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) break;
    checkpoint();
  }
  (*server)->Stop();
  checkpoint();  // the last records before shutdown are covered too
  log::Info("keeper.stopped", {{"malformed_requests", (*server)->malformed_requests()}});
  return 0;
}

int RetireMasterKey(const std::string& key_dir, int64_t version) {
  if (!crypto::InitCrypto().ok()) return FailKeeper("cannot initialise cryptography");
  Status retired =
      keeper::KeeperService::RetireMasterKey(key_dir, version, SystemClock::Instance());
  if (!retired.ok()) return FailKeeper(retired.message());
  // On record in the keeper's own log, which the next keeper start checkpoints. The key is gone
  // already: a log that cannot be opened is reported, not a reason to pretend otherwise.
  audit::LogOptions log_options;
  auto pub_hex = files::ReadWholeFile(key_dir + "/audit/checkpoint.pub", 1024);
  if (pub_hex.ok()) {
    std::string hex = *pub_hex;
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    auto pub = crypto::HexDecode(hex);
    if (pub.ok()) log_options.checkpoint_public_key = *pub;
  }
  auto log = audit::Log::Open(key_dir + "/audit", log_options);
  Status audited = log.ok() ? Status::Ok() : log.status();
  if (log.ok()) {
    audit::Record r;
    r.actor = "keeper-host";
    r.action = "master_key.retire";
    r.target = "v" + std::to_string(version);
    r.outcome = "success";
    r.severity = "warning";
    r.details_json = nlohmann::json{{"version", version}}.dump();
    audited = (*log)->Append(r).status();
  }
  std::cout << "master key version " << version << " retired\n";
  if (!audited.ok()) {
    std::cerr << "rampart keeper: the retirement could not be audited: " << audited.message()
              << "\n";
    return 1;
  }
  return 0;
}

Result<std::unique_ptr<KeeperChild>> KeeperChild::Spawn(const KeeperProcessOptions& options) {
  std::string socket_path =
      options.socket_path.empty() ? DefaultKeeperSocket(options.data_dir) : options.socket_path;
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed.
  std::vector<std::string> args = {"rampart",        "keeper",   "--data",
                                   options.data_dir, "--socket", socket_path};
  if (!options.config_file.empty()) {
    args.push_back("--config");
    args.push_back(options.config_file);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("cannot fork the keeper");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // serve died before the request took effect
    // Only SIGHUP stays blocked: a hangup before the keeper takes it itself must not stop it.
    sigset_t hangup;
    sigemptyset(&hangup);
    sigaddset(&hangup, SIGHUP);
    ::sigprocmask(SIG_SETMASK, &hangup, nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  auto child = std::unique_ptr<KeeperChild>(new KeeperChild(pid));
  keeper::KeeperClient probe({socket_path, 2000, 1});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      child->pid_ = -1;
      return Status::Unavailable("the keeper exited during start-up (see its log above)");
    }
    if (probe.Ping().ok()) return child;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("the keeper did not answer on " + socket_path + " within 15 s");
}

bool KeeperChild::Alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

KeeperChild::~KeeperChild() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
}

}  // namespace rampart::server
