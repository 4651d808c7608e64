#include "http/tls_files.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "common/crypto.h"
#include "tests/http/test_util.h"

namespace rampart::http {
namespace {

using testing::TempDir;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr Load(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) return nullptr;
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int PermissionBits(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mode & 0777;
}

// Runs the same chain verification a TLS client performs, against the CA alone.
int VerifyAgainst(X509* ca, X509* leaf) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  int ok = X509_verify_cert(ctx);
  int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::InitCrypto().ok()); }
  TempDir tmp_;
};

TEST_F(TlsFilesTest, CreatesCaAndServerCertificateThatVerify) {
  std::string dir = tmp_.path() + "/tls";
  auto files = EnsureServerCertificate(dir, {"mdm.example.org", "192.0.2.7"});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->ca_cert, dir + "/ca.pem");
  EXPECT_EQ(files->server_cert, dir + "/server.pem");
  EXPECT_EQ(files->server_key, dir + "/server.key");

  EXPECT_EQ(PermissionBits(dir), 0700);
  for (const char* name : {"ca.pem", "ca.key", "server.pem", "server.key"}) {
    EXPECT_EQ(PermissionBits(dir + "/" + name), 0600) << name;
  }

  X509Ptr ca = Load(files->ca_cert);
  X509Ptr leaf = Load(files->server_cert);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_NE(X509_get_extension_flags(ca.get()) & EXFLAG_CA, 0u);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(VerifyAgainst(ca.get(), leaf.get()), X509_V_OK);

  // ECDSA P-256 keys.
  EVP_PKEY* pub = X509_get0_pubkey(leaf.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  char group[64] = {};
  size_t glen = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen), 1);
  EXPECT_STREQ(group, "prime256v1");

  // Names the clients check.
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "mdm.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "other.example.org", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "192.0.2.7", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "192.0.2.8", 0), 0);

  // Validity: CA about ten years, server about two.
  int days = 0, secs = 0;
  ASSERT_EQ(
      ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()), X509_get0_notAfter(ca.get())), 1);
  EXPECT_GE(days, 3640);
  ASSERT_EQ(
      ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf.get()), X509_get0_notAfter(leaf.get())),
      1);
  EXPECT_GE(days, 700);
  EXPECT_LE(days, 826);
}

TEST_F(TlsFilesTest, SecondCallKeepsExistingFiles) {
  std::string dir = tmp_.path() + "/tls";
  auto first = EnsureServerCertificate(dir);
  ASSERT_TRUE(first.ok());
  std::string ca_key = ReadAll(dir + "/ca.key");
  std::string server_key = ReadAll(dir + "/server.key");
  auto ca_fp = CertificateFingerprint(first->ca_cert);
  auto server_fp = CertificateFingerprint(first->server_cert);
  ASSERT_TRUE(ca_fp.ok() && server_fp.ok());

  auto second = EnsureServerCertificate(dir, {"new.example.org"});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*CertificateFingerprint(second->ca_cert), *ca_fp);
  EXPECT_EQ(*CertificateFingerprint(second->server_cert), *server_fp);
  EXPECT_EQ(ReadAll(dir + "/ca.key"), ca_key);
  EXPECT_EQ(ReadAll(dir + "/server.key"), server_key);
}

TEST_F(TlsFilesTest, MissingServerPairIsReissuedFromExistingCa) {
  std::string dir = tmp_.path() + "/tls";
  auto first = EnsureServerCertificate(dir);
  ASSERT_TRUE(first.ok());
  std::string ca_fp = *CertificateFingerprint(first->ca_cert);
  std::string old_server_fp = *CertificateFingerprint(first->server_cert);
  ASSERT_EQ(::unlink(first->server_cert.c_str()), 0);
  ASSERT_EQ(::unlink(first->server_key.c_str()), 0);

  auto second = EnsureServerCertificate(dir);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*CertificateFingerprint(second->ca_cert), ca_fp);
  EXPECT_NE(*CertificateFingerprint(second->server_cert), old_server_fp);
  X509Ptr ca = Load(second->ca_cert);
  X509Ptr leaf = Load(second->server_cert);
  EXPECT_EQ(VerifyAgainst(ca.get(), leaf.get()), X509_V_OK);
}

TEST_F(TlsFilesTest, HalfPairIsRefused) {
  std::string dir = tmp_.path() + "/tls";
  auto first = EnsureServerCertificate(dir);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(::unlink(first->server_key.c_str()), 0);
  EXPECT_EQ(EnsureServerCertificate(dir).status().code(), Code::kInvalidArgument);
}

TEST_F(TlsFilesTest, SerialsDifferAndForeignCaDoesNotVerify) {
  auto a = EnsureServerCertificate(tmp_.path() + "/a");
  auto b = EnsureServerCertificate(tmp_.path() + "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  X509Ptr ca_a = Load(a->ca_cert);
  X509Ptr leaf_a = Load(a->server_cert);
  X509Ptr leaf_b = Load(b->server_cert);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(leaf_a.get()), X509_get0_serialNumber(leaf_b.get())),
      0);
  EXPECT_NE(VerifyAgainst(ca_a.get(), leaf_b.get()), X509_V_OK);
}

TEST_F(TlsFilesTest, RejectsNameThatCouldInjectAnotherEntry) {
  auto r = EnsureServerCertificate(tmp_.path() + "/tls", {"a.example,IP:10.0.0.1"});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(TlsFilesTest, FingerprintIsSha256Hex) {
  auto files = EnsureServerCertificate(tmp_.path() + "/tls");
  ASSERT_TRUE(files.ok());
  auto fp = CertificateFingerprint(files->ca_cert);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(fp->size(), 64u);
  EXPECT_EQ(fp->find_first_not_of("0123456789abcdef"), std::string::npos);
  X509Ptr ca = Load(files->ca_cert);
  unsigned char digest[32];
  unsigned int len = 0;
  ASSERT_EQ(X509_digest(ca.get(), EVP_sha256(), digest, &len), 1);
  EXPECT_EQ(*fp, crypto::HexEncode(std::string_view(reinterpret_cast<char*>(digest), len)));
  EXPECT_FALSE(CertificateFingerprint(tmp_.path() + "/missing.pem").ok());
}

}  // namespace
}  // namespace rampart::http
