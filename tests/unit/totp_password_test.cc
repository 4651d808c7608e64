// TOTP against the RFC 6238 Appendix B vectors, base32 against RFC 4648, argon2id password
// hashing, and the sign-in configuration keys.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/totp.h"

namespace rampart {
namespace {

// RFC 6238 Appendix B: the SHA-1 rows, secret "12345678901234567890", 8 digits, T0 = 0, X = 30.
struct Vector {
  int64_t time;
  const char* code;
};
constexpr Vector kRfc6238Sha1[] = {{59, "94287082"},         {1111111109, "07081804"},
                                   {1111111111, "14050471"}, {1234567890, "89005924"},
                                   {2000000000, "69279037"}, {20000000000, "65353130"}};
constexpr std::string_view kRfcSecret = "12345678901234567890";

TEST(Totp, Rfc6238AppendixBVectors) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  for (const auto& v : kRfc6238Sha1) {
    SCOPED_TRACE(v.time);
    EXPECT_EQ(totp::Code(kRfcSecret, totp::StepAt(v.time), 8), v.code);
    // Six digits are the same truncation modulo 10^6: the last six digits.
    std::string six = std::string(v.code).substr(2);
    EXPECT_EQ(totp::Code(kRfcSecret, totp::StepAt(v.time)), six);
    EXPECT_EQ(totp::Match(kRfcSecret, six, v.time, -1), totp::StepAt(v.time));
  }
}

TEST(Totp, AcceptsOneStepEitherSideAndNeverTheSameStepTwice) {
  const int64_t now = 1111111111;
  const int64_t step = totp::StepAt(now);
  for (int64_t delta : {-1, 0, 1}) {
    std::string code = totp::Code(kRfcSecret, step + delta);
    EXPECT_EQ(totp::Match(kRfcSecret, code, now, -1), step + delta) << delta;
  }
  for (int64_t delta : {-2, 2}) {
    EXPECT_EQ(totp::Match(kRfcSecret, totp::Code(kRfcSecret, step + delta), now, -1), std::nullopt)
        << delta;
  }
  std::string code = totp::Code(kRfcSecret, step);
  EXPECT_EQ(totp::Match(kRfcSecret, code, now, step), std::nullopt) << "already used";
  EXPECT_EQ(totp::Match(kRfcSecret, totp::Code(kRfcSecret, step - 1), now, step), std::nullopt)
      << "older than the last used step";
  EXPECT_EQ(totp::Match(kRfcSecret, totp::Code(kRfcSecret, step + 1), now, step), step + 1);
  EXPECT_EQ(totp::Match(kRfcSecret, "12345", now, -1), std::nullopt);
  EXPECT_EQ(totp::Match(kRfcSecret, "1234567", now, -1), std::nullopt);
  EXPECT_EQ(totp::Match("", code, now, -1), std::nullopt);
}

TEST(Totp, Base32MatchesRfc4648AndRoundTrips) {
  // RFC 4648 section 10, without padding.
  EXPECT_EQ(totp::Base32Encode(""), "");
  EXPECT_EQ(totp::Base32Encode("f"), "MY");
  EXPECT_EQ(totp::Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(totp::Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(totp::Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(totp::Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(totp::Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(*totp::Base32Decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(*totp::Base32Decode("mzxw 6ytb oi"), "foobar");
  EXPECT_FALSE(totp::Base32Decode("MZXW1").ok()) << "1 is not in the alphabet";
  std::string secret = crypto::RandomBytes(totp::kSecretBytes);
  EXPECT_EQ(*totp::Base32Decode(totp::Base32Encode(secret)), secret);
  EXPECT_EQ(totp::Base32Encode(kRfcSecret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Totp, OtpauthUriEscapesIssuerAndAccount) {
  EXPECT_EQ(totp::Uri("Rampart", "alice@ex ample", kRfcSecret),
            "otpauth://totp/Rampart:alice%40ex%20ample?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=Rampart&algorithm=SHA1&digits=6&period=30");
}

TEST(Password, Argon2idHashesVerifyAndAreSalted) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  auto h1 = crypto::HashPassword("correct horse battery");
  auto h2 = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(h1->rfind("$argon2id$", 0), 0u) << *h1;
  EXPECT_NE(*h1, *h2) << "each hash has its own salt";
  EXPECT_TRUE(crypto::VerifyPassword(*h1, "correct horse battery"));
  EXPECT_TRUE(crypto::VerifyPassword(*h2, "correct horse battery"));
  EXPECT_FALSE(crypto::VerifyPassword(*h1, "correct horse batterY"));
  EXPECT_FALSE(crypto::VerifyPassword(*h1, ""));
  EXPECT_FALSE(crypto::VerifyPassword("", "correct horse battery"));
  EXPECT_FALSE(crypto::VerifyPassword("$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "x"));
  EXPECT_FALSE(crypto::VerifyPassword(std::string(500, '$'), "x"));
}

TEST(SignInConfig, KeysHaveDefaultsAndRefuseZero) {
  Config c;
  EXPECT_EQ(c.session_idle_timeout_seconds, 900u);
  EXPECT_EQ(c.session_lifetime_seconds, 12u * 3600);
  EXPECT_EQ(c.max_sessions_per_user, 3u);
  EXPECT_EQ(c.login_max_failures, 3u);
  EXPECT_EQ(c.login_failure_window_seconds, 900u);
  EXPECT_EQ(c.login_lockout_seconds, 900u);
  ASSERT_TRUE(ApplyConfigYaml("session_idle_timeout_seconds: 300\n"
                              "session_lifetime_seconds: 3600\n"
                              "max_sessions_per_user: 1\n"
                              "login_max_failures: 5\n"
                              "login_failure_window_seconds: 600\n"
                              "login_lockout_seconds: 1800\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.session_idle_timeout_seconds, 300u);
  EXPECT_EQ(c.session_lifetime_seconds, 3600u);
  EXPECT_EQ(c.max_sessions_per_user, 1u);
  EXPECT_EQ(c.login_max_failures, 5u);
  EXPECT_EQ(c.login_failure_window_seconds, 600u);
  EXPECT_EQ(c.login_lockout_seconds, 1800u);
  Status zero = ApplyConfigYaml("max_sessions_per_user: 0\n", &c);
  EXPECT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("max_sessions_per_user"), std::string::npos);
  EXPECT_EQ(c.max_sessions_per_user, 1u) << "a refused file changes nothing";
}

}  // namespace
}  // namespace rampart
