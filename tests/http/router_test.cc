#include "http/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/message.h"

namespace rampart::http {
namespace {

Handler Named(std::string name) {
  return [name](const Request&, const PathParams&) { return Response::Json(200, name); };
}

std::string Call(const RouteMatch& m) {
  Request req;
  return m.route->handler(req, m.params).body;
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
}

TEST(PercentDecodeTest, RejectsBadEscapesAndNul) {
  EXPECT_EQ(PercentDecode("%", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PercentDecode("ab%4", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PercentDecode("%zz", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PercentDecode("a%00b", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PercentDecode(std::string_view("a\0b", 3), false).status().code(),
            Code::kInvalidArgument);
}

TEST(RequestTest, HeaderReturnsFirstOrEmpty) {
  Request req;
  req.headers = {{"x-a", "1"}, {"x-a", "2"}, {"content-type", "text/plain"}};
  EXPECT_EQ(req.Header("x-a"), "1");
  EXPECT_EQ(req.Header("content-type"), "text/plain");
  EXPECT_EQ(req.Header("x-missing"), "");
}

TEST(RequestTest, QueryParam) {
  Request req;
  req.query = "a=1&b=hello%20world&c=x+y&flag&bad=%zz&a=2&n%61me=v";
  std::string v;
  EXPECT_TRUE(req.QueryParam("a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(req.QueryParam("b", &v));
  EXPECT_EQ(v, "hello world");
  EXPECT_TRUE(req.QueryParam("c", &v));
  EXPECT_EQ(v, "x y");
  EXPECT_TRUE(req.QueryParam("flag", &v));
  EXPECT_EQ(v, "");
  EXPECT_TRUE(req.QueryParam("name", &v));
  EXPECT_EQ(v, "v");
  v = "stale";
  EXPECT_FALSE(req.QueryParam("bad", &v));
  EXPECT_EQ(v, "");
  EXPECT_FALSE(req.QueryParam("missing", &v));
  Request empty;
  EXPECT_FALSE(empty.QueryParam("a", &v));
}

TEST(ResponseTest, ErrorBodyAndStatusMapping) {
  Response r = Response::Error(Status::NotFound("no such device"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "not_found");
  EXPECT_EQ(body["error"]["message"], "no such device");

  // Quotes and control characters are escaped, not spliced into the JSON.
  Response q = Response::Error(400, "invalid_argument", "bad \"x\"\n}");
  EXPECT_EQ(nlohmann::json::parse(q.body)["error"]["message"], "bad \"x\"\n}");
  // Invalid UTF-8 still produces a parseable body.
  Response u = Response::Error(400, "invalid_argument", "\xff\xfe");
  EXPECT_TRUE(nlohmann::json::accept(u.body));

  EXPECT_EQ(HttpStatusFor(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(Code::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(Code::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(Code::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(Code::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Code::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(Code::kInternal), 500);
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/healthz", "public", Named("health"));
    router_.Add("GET", "/api/v1/devices/{id}", "devices.read", Named("get-device"));
    router_.Add("DELETE", "/api/v1/devices/{id}", "devices.write", Named("delete-device"));
    router_.Add("GET", "/api/v1/devices/{id}/commands/{cmd}", "commands.read", Named("cmd"));
    router_.Add("GET", "/api/v1/devices/search", "devices.read", Named("search"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralAndCaptures) {
  RouteMatch m = router_.Match("GET", "/healthz");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->permission, "public");
  EXPECT_TRUE(m.params.empty());

  m = router_.Match("GET", "/api/v1/devices/dev-42/commands/c%201");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "cmd");
  EXPECT_EQ(m.params.at("id"), "dev-42");
  EXPECT_EQ(m.params.at("cmd"), "c 1");
}

TEST_F(RouterTest, LiteralBeatsCaptureRegardlessOfOrder) {
  RouteMatch m = router_.Match("GET", "/api/v1/devices/search");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "search");
  EXPECT_TRUE(m.params.empty());
  m = router_.Match("GET", "/api/v1/devices/other");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "get-device");
}

TEST_F(RouterTest, MethodSelectsRouteAnd405Info) {
  RouteMatch m = router_.Match("DELETE", "/api/v1/devices/d1");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->permission, "devices.write");

  m = router_.Match("POST", "/api/v1/devices/d1");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_matched_other_method);

  m = router_.Match("GET", "/api/v1/nothing");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_matched_other_method);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  RouteMatch m = router_.Match("HEAD", "/healthz");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
  m = router_.Match("HEAD", "/api/v1/nothing");
  EXPECT_EQ(m.route, nullptr);
}

TEST_F(RouterTest, RejectsTraversalAndOddCaptures) {
  for (const char* path : {
           "/api/v1/devices/..",
           "/api/v1/devices/.",
           "/api/v1/devices/%2e%2e",
           "/api/v1/devices/%2E",
           "/api/v1/devices/a%2Fb",
           "/api/v1/devices/a%00b",
           "/api/v1/devices/%zz",
           "/api/v1/devices/",
           "/api/v1/devices//commands/x",
           "/api/v1/devices/x/",
           "api/v1/devices/x",
           "",
       }) {
    RouteMatch m = router_.Match("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_TRUE(m.params.empty()) << path;
  }
  // Encoded spellings of literal segments are different routes.
  EXPECT_EQ(router_.Match("GET", "/api/v1/dev%69ces/x").route, nullptr);
  EXPECT_EQ(router_.Match("GET", "/healthz/").route, nullptr);
  EXPECT_EQ(router_.Match("GET", "/HEALTHZ").route, nullptr);
}

TEST_F(RouterTest, RoutesListsEveryRouteWithPermission) {
  ASSERT_EQ(router_.Routes().size(), 5u);
  EXPECT_EQ(router_.Routes()[1].pattern, "/api/v1/devices/{id}");
  EXPECT_EQ(router_.Routes()[1].permission, "devices.read");
}

TEST(RouterRootTest, RootPath) {
  Router r;
  r.Add("GET", "/", "public", Named("root"));
  ASSERT_NE(r.Match("GET", "/").route, nullptr);
  EXPECT_EQ(r.Match("GET", "//").route, nullptr);
}

}  // namespace
}  // namespace rampart::http
