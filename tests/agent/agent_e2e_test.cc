// End to end: the real `rampart serve` (build/bin/rampart) on 127.0.0.1 with a free port and its
// own TLS CA, driven through the admin API, and the real `rampart-agent` binary enrolling,
// checking in and executing commands over the device protocol.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "http/client.h"

extern char** environ;

namespace rampart::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kRampart = std::string(RAMPART_BINARY_DIR) + "/bin/rampart";
const std::string kAgent = std::string(RAMPART_BINARY_DIR) + "/bin/rampart-agent";

struct ProcResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// Runs a program to completion, capturing stdout and stderr (no shell involved).
ProcResult RunProgram(const std::vector<std::string>& args) {
  ProcResult r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  auto argv = Argv(args);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = "cannot start " + args[0];
    return r;
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The server as a child process; stdout is read until it names its listening address.
class ServerProcess {
 public:
  bool Start(const std::string& data_dir, const std::string& log, std::string* error) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> args = {kRampart, "serve",    "--data",
                                     data_dir, "--listen", "127.0.0.1:0"};
    auto argv = Argv(args);
    int rc = posix_spawn(&pid_, kRampart.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      *error = "cannot start " + kRampart;
      return false;
    }
    out_fd_ = out[0];
    const std::string marker = "rampart listening on ";
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[1024];
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
      auto at = seen.find(marker);
      if (at != std::string::npos) {
        auto eol = seen.find('\n', at);
        if (eol == std::string::npos) continue;
        url_ = seen.substr(at + marker.size(), eol - at - marker.size());
        return true;
      }
    }
    *error = "server did not report its address; stdout was: " + seen;
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
  }

  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string url_;
};

struct ApiReply {
  int status = 0;
  json body;
};

class AgentE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << kRampart << " is not built";
    ASSERT_TRUE(fs::exists(kAgent)) << kAgent << " is not built";
    dir_ = fs::temp_directory_path() / ("rampart_agent_e2e_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();

    // The server creates the database on first start; the admin commands then work beside it.
    server_ = new ServerProcess();
    std::string error;
    ASSERT_TRUE(server_->Start(data_, (dir_ / "server.log").string(), &error)) << error;
    ca_ = data_ + "/tls/ca.pem";
    ASSERT_TRUE(fs::exists(ca_));

    ProcResult inst =
        RunProgram({kRampart, "admin", "--data", data_, "institution", "create", "E2E"});
    ASSERT_EQ(inst.exit_code, 0) << inst.err;
    institution_ = Trim(inst.out);
    ProcResult tok = RunProgram({kRampart, "admin", "--data", data_, "token", "create", "--role",
                                 "admin", "--institution", institution_});
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    admin_token_ = Trim(tok.out);
    ProcResult enr = RunProgram({kRampart, "admin", "--data", data_, "enrollment", "create",
                                 "--institution", institution_, "--max-uses", "1000"});
    ASSERT_EQ(enr.exit_code, 0) << enr.err;
    enrollment_token_ = Trim(enr.out);
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      server_->Stop();
      delete server_;
      server_ = nullptr;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static ApiReply Api(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::string& content_type = "application/json") {
    ApiReply reply;
    auto client = http::HttpClient::Connect({.url = server_->url(), .ca_file = ca_});
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return reply;
    http::HeaderList headers = {{"authorization", "Bearer " + admin_token_}};
    if (!body.empty()) headers.emplace_back("content-type", content_type);
    auto r = (*client)->Send(method, target, headers, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return reply;
    reply.status = r->status;
    reply.body = json::parse(r->body, nullptr, false);
    return reply;
  }

  static std::string StatePath(const std::string& name) { return (dir_ / name).string(); }

  static std::string Enroll(const std::string& state, const std::string& serial) {
    ProcResult r = RunProgram({kAgent, "enroll", "--server", server_->url(), "--ca", ca_, "--token",
                               enrollment_token_, "--state", state, "--platform", "android",
                               "--model", "Pixel 8", "--serial", serial, "--os-version", "14"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Trim(r.out);
  }

  static ProcResult RunOnce(const std::string& state) {
    return RunProgram({kAgent, "run", "--state", state, "--once"});
  }

  static json ReadJsonFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str(), nullptr, false);
  }

  static std::string QueueCommand(const std::string& device_id, const json& command) {
    ApiReply r = Api("POST", "/api/v1/devices/" + device_id + "/commands", command.dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  static std::map<std::string, json> CommandsByType(const std::string& device_id) {
    ApiReply r = Api("GET", "/api/v1/devices/" + device_id + "/commands?limit=100");
    EXPECT_EQ(r.status, 200) << r.body.dump();
    std::map<std::string, json> out;
    if (r.body.contains("items")) {
      for (const auto& c : r.body["items"]) out[c["type"].get<std::string>()] = c;
    }
    return out;
  }

  static std::string CreateGroupWith(const std::string& name, const std::string& device_id) {
    ApiReply g = Api("POST", "/api/v1/groups", json{{"name", name}}.dump());
    EXPECT_EQ(g.status, 201) << g.body.dump();
    std::string gid = g.body.value("id", "");
    ApiReply m = Api("PUT", "/api/v1/groups/" + gid + "/devices/" + device_id);
    EXPECT_EQ(m.status, 200) << m.body.dump();
    return gid;
  }

  static ApiReply UploadApp(const std::string& bundle_id, const std::string& bytes) {
    return Api("POST",
               "/api/v1/apps?name=E2E&bundle_id=" + bundle_id + "&version=1.0&platform=android",
               bytes, "application/octet-stream");
  }

  static bool Contains(const json& list, const std::string& v) {
    for (const auto& x : list) {
      if (x == v) return true;
    }
    return false;
  }

  static inline fs::path dir_;
  static inline std::string data_;
  static inline std::string ca_;
  static inline std::string institution_;
  static inline std::string admin_token_;
  static inline std::string enrollment_token_;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(AgentE2ETest, EnrollCheckInExecuteCommandsAndBecomeCompliant) {
  std::string state = StatePath("device1.json");
  std::string device_id = Enroll(state, "E2E0001");
  ASSERT_EQ(device_id.rfind("dev_", 0), 0u) << device_id;
  struct stat st;
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  ASSERT_EQ(dev.status, 200) << dev.body.dump();
  EXPECT_EQ(dev.body["serial"], "E2E0001");
  EXPECT_EQ(dev.body["platform"], "android");

  // An app and a policy reach the device through a group; lock and restart directly.
  std::string gid = CreateGroupWith("e2e-group-1", device_id);
  ApiReply app = UploadApp("org.e2e.vpn", "e2e package bytes v1");
  ASSERT_EQ(app.status, 201) << app.body.dump();
  ApiReply assign =
      Api("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
          json{{"group_id", gid}}.dump());
  ASSERT_EQ(assign.status, 201) << assign.body.dump();
  ApiReply pol = Api("POST", "/api/v1/policies",
                     json{{"name", "e2e passcode"},
                          {"rules", {{"passcode_min_length", 8}, {"camera_allowed", false}}}}
                         .dump());
  ASSERT_EQ(pol.status, 201) << pol.body.dump();
  std::string policy_id = pol.body["id"];
  ApiReply pas = Api("POST", "/api/v1/policies/" + policy_id + "/assignments",
                     json{{"target", "group"}, {"group_id", gid}}.dump());
  ASSERT_EQ(pas.status, 201) << pas.body.dump();
  QueueCommand(device_id, {{"type", "lock"}, {"message", "e2e lock"}});
  QueueCommand(device_id, {{"type", "restart"}});

  ProcResult first = RunOnce(state);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto commands = CommandsByType(device_id);
  for (const char* type : {"install_app", "apply_policy", "lock", "restart"}) {
    ASSERT_TRUE(commands.count(type)) << type;
    EXPECT_EQ(commands[type]["state"], "acknowledged") << commands[type].dump();
  }

  json s = ReadJsonFile(state);
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["device"]["locked"], true);
  EXPECT_EQ(s["device"]["lock_message"], "e2e lock");
  EXPECT_EQ(s["device"]["restarts"], 1);
  EXPECT_TRUE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.vpn"));
  EXPECT_EQ(s["device"]["state"]["camera_disabled"], true);
  EXPECT_EQ(s["device"]["last_applied_policy"]["policy_id"], policy_id);
  EXPECT_GE(s["last_command_seq"].get<int64_t>(), 4);
  // The first check-in reported the 4-digit passcode: the policy made the device non-compliant.
  dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["compliance"]["state"], "noncompliant") << dev.body.dump();

  // The user answered the passcode prompt; the next check-in reports a compliant device.
  ProcResult second = RunOnce(state);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["state"]["passcode_length"], 8) << dev.body.dump();
  EXPECT_EQ(dev.body["state"]["camera_disabled"], true);
  EXPECT_TRUE(Contains(dev.body["state"]["installed_apps"], "org.e2e.vpn"));
  EXPECT_EQ(dev.body["compliance"]["state"], "compliant") << dev.body.dump();

  QueueCommand(device_id, {{"type", "remove_app"}, {"bundle_id", "org.e2e.vpn"}});
  ProcResult third = RunOnce(state);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(CommandsByType(device_id)["remove_app"]["state"], "acknowledged");
  s = ReadJsonFile(state);
  EXPECT_FALSE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.vpn"));
}

TEST_F(AgentE2ETest, PackageSwappedOnDiskIsNeverInstalled) {
  std::string state = StatePath("device2.json");
  std::string device_id = Enroll(state, "E2E0002");
  ASSERT_FALSE(device_id.empty());
  std::string gid = CreateGroupWith("e2e-group-2", device_id);
  ApiReply app = UploadApp("org.e2e.swapped", "genuine package bytes");
  ASSERT_EQ(app.status, 201) << app.body.dump();
  std::string sha = app.body["sha256"];
  {
    std::ofstream swap(data_ + "/apps/" + sha, std::ios::trunc | std::ios::binary);
    swap << "malicious replacement";
  }
  ApiReply assign =
      Api("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
          json{{"group_id", gid}}.dump());
  ASSERT_EQ(assign.status, 201) << assign.body.dump();

  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto commands = CommandsByType(device_id);
  ASSERT_TRUE(commands.count("install_app"));
  EXPECT_EQ(commands["install_app"]["state"], "error") << commands["install_app"].dump();
  json s = ReadJsonFile(state);
  EXPECT_FALSE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.swapped"));
}

TEST_F(AgentE2ETest, UnknownCommandTypeIsNeverQueuedAndLostModeWorks) {
  std::string state = StatePath("device3.json");
  std::string device_id = Enroll(state, "E2E0003");
  ApiReply bad = Api("POST", "/api/v1/devices/" + device_id + "/commands",
                     json{{"type", "format_disk"}}.dump());
  EXPECT_EQ(bad.status, 400);
  QueueCommand(device_id, {{"type", "lost_mode"}, {"message", "Lost"}, {"phone", "+32 2 123"}});
  QueueCommand(device_id, {{"type", "clear_passcode"}});
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto commands = CommandsByType(device_id);
  EXPECT_EQ(commands["lost_mode"]["state"], "acknowledged");
  EXPECT_EQ(commands["clear_passcode"]["state"], "acknowledged");
  json s = ReadJsonFile(state);
  EXPECT_EQ(s["device"]["lost_mode"], true);
  EXPECT_EQ(s["device"]["lost_phone"], "+32 2 123");
  EXPECT_EQ(s["device"]["state"]["passcode_set"], false);
}

TEST_F(AgentE2ETest, AForeignKeyIsRefused) {
  std::string state = StatePath("device4.json");
  ASSERT_FALSE(Enroll(state, "E2E0004").empty());
  json s = ReadJsonFile(state);
  auto other = crypto::GenerateEd25519();
  s["secret_key"] = crypto::Base64Encode(other.secret_key);
  s["public_key"] = crypto::Base64Encode(other.public_key);
  std::ofstream(state, std::ios::trunc) << s.dump();
  ProcResult r = RunOnce(state);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
}

TEST_F(AgentE2ETest, BadEnrollmentTokenCreatesNoState) {
  std::string state = StatePath("device5.json");
  ProcResult r = RunProgram({kAgent, "enroll", "--server", server_->url(), "--ca", ca_, "--token",
                             "enr_not_a_real_token", "--state", state});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(state));
}

TEST_F(AgentE2ETest, RetireAcknowledgesThenForgetsEnrollment) {
  std::string state = StatePath("device6.json");
  std::string device_id = Enroll(state, "E2E0006");
  QueueCommand(device_id, {{"type", "retire"}});
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state));
  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["status"], "retired") << dev.body.dump();
  ProcResult again = RunOnce(state);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("does not exist"), std::string::npos) << again.err;
}

TEST_F(AgentE2ETest, FullWipeForgetsEnrollment) {
  std::string state = StatePath("device7.json");
  std::string device_id = Enroll(state, "E2E0007");
  QueueCommand(device_id, {{"type", "wipe"}, {"mode", "full"}});
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state));
  EXPECT_EQ(CommandsByType(device_id)["wipe"]["state"], "acknowledged");
  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["status"], "retired") << dev.body.dump();
}

TEST_F(AgentE2ETest, SimulatorEnrollsAndChecksInAFleet) {
  ProcResult r = RunProgram({kAgent, "simulate", "--server", server_->url(), "--ca", ca_, "--token",
                             enrollment_token_, "--devices", "20", "--interval", "1", "--duration",
                             "4", "--connections", "4", "--seed", "7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << r.out;
  EXPECT_EQ(summary["devices_requested"], 20);
  EXPECT_EQ(summary["devices_enrolled"], 20) << r.out;
  EXPECT_GT(summary["checkins"].get<int64_t>(), 0) << r.out;
  EXPECT_TRUE(summary["errors"].empty()) << r.out;
  EXPECT_EQ(summary["checkin_latency_ms"]["count"], summary["checkins"]);
}

}  // namespace
}  // namespace rampart::agent
