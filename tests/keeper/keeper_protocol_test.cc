// The keeper socket: a client in another thread gets the same answers as the service itself,
// malformed requests are refused and counted, and a missing keeper means Unavailable.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "../http/test_util.h"
#include "../support/memory_trail.h"
#include "common/crypto.h"
#include "keeper/client.h"
#include "keeper/protocol.h"
#include "keeper/service.h"
#include "keeper/socket_io.h"
#include "keeper/socket_server.h"

namespace rampart::keeper {
namespace {

using http::testing::TempDir;
using testing::MemoryTrail;

class KeeperSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    KeeperOptions options;
    options.key_dir = dir_.path() + "/keeper";
    auto k = KeeperService::Open(options, &trail_, &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    service_ = std::move(k).value();
    socket_path_ = dir_.path() + "/keeper.sock";
    auto server = SocketServer::Start(service_.get(), {socket_path_, 8});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  int RawConnect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  TempDir dir_;
  ManualClock clock_{1'780'000'000'000};
  MemoryTrail trail_{&clock_};
  std::unique_ptr<KeeperService> service_;
  std::string socket_path_;
  std::unique_ptr<SocketServer> server_;
};

TEST_F(KeeperSocketTest, ClientRoundTripsEveryOperation) {
  KeeperClient client({socket_path_});
  ASSERT_TRUE(client.Ping().ok());
  Caller caller{"tok_h", "helpdesk", "ins_a", "req_1", "127.0.0.1", "staff.reveal"};
  auto sealed =
      client.Seal({caller, "ins_a", "stf_1", {"Jane Doe", "+32 470 12 34 12", "j@x.org"}, false});
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(sealed->masked.mobile, "+32 4** *** *12");
  auto opened = client.Open(
      {caller, {{"ins_a", "stf_1", sealed->ciphertext, sealed->wrapped_key, sealed->key_version}}});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)[0].fields.name, "Jane Doe");
  EXPECT_EQ(*client.BlindIndex("ins_a", "mobile", "+32470123412"), sealed->mobile_index);

  auto key = client.GetCommandKey("ins_a");
  ASSERT_TRUE(key.ok());
  SignCommandRequest req;
  req.caller = caller;
  req.institution_id = "ins_a";
  req.fields = {"dev_1", "cmd_1", 1, "lock", crypto::Sha256Hex("{}"), 2000000000};
  auto sig = client.SignCommand(req);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(crypto::VerifyEd25519(key->public_key, core::CommandSigningString(req.fields),
                                    sig->signature));
  req.fields.type = "wipe";
  EXPECT_EQ(client.SignCommand(req).status().code(), Code::kPermissionDenied)
      << "the keeper's refusal crosses the socket with its code";

  auto rotation = client.RotateCommandKey(caller, "ins_a");
  ASSERT_TRUE(rotation.ok());
  auto chain = client.KeyRotations("ins_a");
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain->size(), 1u);

  audit::Record r;
  r.actor = "tok_h";
  r.action = "auth.login";
  r.outcome = "success";
  auto appended = client.AppendAudit(r);
  ASSERT_TRUE(appended.ok());
  EXPECT_GE(appended->index, 0);
  AuditQuery query;
  query.caller = caller;
  query.action_prefixes = {"auth."};
  query.limit = 10;
  auto page = client.QueryAudit(query);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].index, appended->index);
  EXPECT_EQ(page->records[0].actor, "tok_h");
  EXPECT_EQ(page->next_cursor, -1);
  query.limit = 0;
  EXPECT_EQ(client.QueryAudit(query).status().code(), Code::kInvalidArgument);
  auto cp = client.MakeCheckpoint();
  ASSERT_TRUE(cp.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(*client.CheckpointPublicKey(), std::to_string(cp->tree_size),
                                    cp->signature));
}

TEST_F(KeeperSocketTest, ConcurrentClientsAreServed) {
  KeeperClient client({socket_path_});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (client.BlindIndex("ins_a", "email", "a@b.c").ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST_F(KeeperSocketTest, InvalidUtf8NeitherThrowsNorBreaksTheConnection) {
  KeeperClient client({socket_path_});
  std::string bad = std::string("\xff\xfe@example.org");
  EXPECT_TRUE(client.BlindIndex("ins_a", "email", bad).ok());
  Caller caller{"tok_h", "helpdesk", "ins_a", "req_\xff", "127.0.0.1", "staff.reveal"};
  auto sealed = client.Seal({caller, "ins_a", "stf_1", {"Bad \xc3\x28 name", "", ""}, false});
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_TRUE(client.Ping().ok());
}

TEST_F(KeeperSocketTest, MalformedRequestsAreRefusedAndCounted) {
  int fd = RawConnect();
  for (const char* body : {"not json", "[]", R"({"op":"open"})", R"({"op":"nope","args":{}})",
                           R"({"op":"open","args":{"caller":{"principal":7},"records":[]}})",
                           R"({"op":"seal","args":{"caller":{"principal":"p"}}})"}) {
    ASSERT_TRUE(WriteFrame(fd, body).ok());
    std::string answer;
    ASSERT_TRUE(ReadFrame(fd, &answer).ok()) << body;
    auto doc = nlohmann::json::parse(answer);
    EXPECT_FALSE(doc["ok"].get<bool>()) << body;
    EXPECT_EQ(doc["code"], "invalid_argument") << body;
  }
  EXPECT_EQ(server_->malformed_requests(), 6);
  // The connection survives bad requests.
  ASSERT_TRUE(
      WriteFrame(fd, EncodeRequest("checkpoint_public_key", nlohmann::json::object())).ok());
  std::string answer;
  ASSERT_TRUE(ReadFrame(fd, &answer).ok());
  EXPECT_TRUE(nlohmann::json::parse(answer)["ok"].get<bool>());
  ::close(fd);
}

TEST_F(KeeperSocketTest, OversizedFramesCloseTheConnection) {
  int fd = RawConnect();
  unsigned char header[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_EQ(::send(fd, header, 4, MSG_NOSIGNAL), 4);
  std::string answer;
  ASSERT_TRUE(ReadFrame(fd, &answer).ok());
  EXPECT_EQ(nlohmann::json::parse(answer)["code"], "invalid_argument");
  EXPECT_EQ(ReadFrame(fd, &answer).code(), Code::kNotFound) << "the keeper hung up";
  EXPECT_EQ(server_->malformed_requests(), 1);
  ::close(fd);
}

TEST_F(KeeperSocketTest, AKeeperThatIsDownFailsClosed) {
  KeeperClient client({socket_path_});
  ASSERT_TRUE(client.Ping().ok());
  server_->Stop();
  EXPECT_EQ(client.Seal({{"p", "admin", "ins_a", "", "", "x"}, "ins_a", "stf_1", {}, false})
                .status()
                .code(),
            Code::kUnavailable);
  EXPECT_EQ(client.SignCommand({}).status().code(), Code::kUnavailable);
  KeeperClient nowhere({dir_.path() + "/absent.sock"});
  EXPECT_EQ(nowhere.Ping().code(), Code::kUnavailable);
}

TEST(KeeperProtocol, HandleRequestNeverThrowsOnGarbage) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  TempDir dir;
  ManualClock clock(0);
  MemoryTrail trail(&clock);
  KeeperOptions options;
  options.key_dir = dir.path() + "/k";
  auto keeper = KeeperService::Open(options, &trail, &clock);
  ASSERT_TRUE(keeper.ok());
  for (std::string body :
       {std::string("\0\0\0", 3), std::string("{\"op\":\"sign_command\",\"args\":{\"caller\":[]}}"),
        std::string(
            "{\"op\":\"open\",\"args\":{\"caller\":{\"principal\":\"p\"},\"records\":[1]}}"),
        std::string("{\"op\":\"append_audit\",\"args\":{\"action\":1}}"),
        std::string("{\"op\":\"blind_index\",\"args\":{\"institution_id\":\"a\",\"field\":"
                    "\"mobile\",\"value\":{}}}")}) {
    bool malformed = false;
    auto answer = nlohmann::json::parse(HandleRequest(**keeper, body, &malformed));
    EXPECT_FALSE(answer["ok"].get<bool>());
    EXPECT_TRUE(malformed) << body;
  }
}

}  // namespace
}  // namespace rampart::keeper
