#include "http/tls_files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "common/crypto.h"
#include "common/files.h"

namespace rampart::http {
namespace {

constexpr long kCaValiditySeconds = 10L * 365 * 24 * 3600;
// 825 days: the longest lifetime Apple platforms accept for a TLS server certificate.
constexpr long kServerValiditySeconds = 825L * 24 * 3600;
// Tolerates clients whose clocks run a little behind the server that issued the certificate.
constexpr long kBackdateSeconds = 3600;

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, NamesFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::string> PemOfKey(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal("cannot encode private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len));
  return out;
}

Result<std::string> PemOfCert(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Status::Internal("cannot encode certificate");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<PkeyPtr> LoadKey(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Status::InvalidArgument("cannot open TLS key file");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::InvalidArgument("cannot parse TLS key file");
  return key;
}

Result<X509Ptr> LoadCert(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Status::InvalidArgument("cannot open certificate file");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::InvalidArgument("cannot parse certificate file");
  return cert;
}

Result<PkeyPtr> GenerateKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Status::Internal("cannot generate ECDSA P-256 key");
  return key;
}

Status SetRandomSerial(X509* cert) {
  // 159 random bits: positive, under the 20-octet limit of RFC 5280, unpredictable.
  BnPtr bn(BN_new());
  if (!bn || BN_rand(bn.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return Status::Internal("cannot draw certificate serial");
  }
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return Status::Internal("cannot set certificate serial");
  }
  return Status::Ok();
}

Status SetName(X509_NAME* name, const std::string& common_name) {
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("Rampart"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return Status::Internal("cannot set certificate name");
  }
  return Status::Ok();
}

// Only constant, program-supplied values go through the textual extension syntax.
Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::Internal("cannot add certificate extension");
  }
  return Status::Ok();
}

bool ValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return name.front() != '.' && name.front() != '-';
}

// Subject alternative names are built as structures, not as a "DNS:a,IP:b" string, so that an
// operator-supplied name cannot smuggle in another entry.
Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& extra_names) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  for (const std::string& n : extra_names) {
    bool seen = false;
    for (const std::string& existing : names) seen = seen || existing == n;
    if (!seen) names.push_back(n);
  }
  NamesPtr gens(sk_GENERAL_NAME_new_null());
  if (!gens) return Status::Internal("cannot allocate subject alternative names");
  for (const std::string& n : names) {
    GENERAL_NAME* gen = GENERAL_NAME_new();
    if (gen == nullptr) return Status::Internal("cannot allocate subject alternative name");
    unsigned char ip[16];
    int ip_len = 0;
    if (::inet_pton(AF_INET, n.c_str(), ip) == 1) {
      ip_len = 4;
    } else if (::inet_pton(AF_INET6, n.c_str(), ip) == 1) {
      ip_len = 16;
    }
    if (ip_len > 0) {
      ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
      if (octets == nullptr || ASN1_OCTET_STRING_set(octets, ip, ip_len) != 1) {
        ASN1_OCTET_STRING_free(octets);
        GENERAL_NAME_free(gen);
        return Status::Internal("cannot encode IP subject alternative name");
      }
      GENERAL_NAME_set0_value(gen, GEN_IPADD, octets);
    } else {
      if (!ValidDnsName(n)) {
        GENERAL_NAME_free(gen);
        return Status::InvalidArgument("TLS name is neither an IP address nor a DNS name");
      }
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, n.data(), static_cast<int>(n.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        GENERAL_NAME_free(gen);
        return Status::Internal("cannot encode DNS subject alternative name");
      }
      GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(gens.get(), gen) == 0) {
      GENERAL_NAME_free(gen);
      return Status::Internal("cannot add subject alternative name");
    }
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Status::Internal("cannot add subject alternative names");
  }
  return Status::Ok();
}

Result<X509Ptr> NewCertificate(EVP_PKEY* subject_key, long validity_seconds) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Status::Internal("cannot allocate certificate");
  }
  RAMPART_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity_seconds) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return Status::Internal("cannot fill certificate");
  }
  return cert;
}

Result<X509Ptr> MakeCa(EVP_PKEY* ca_key) {
  RAMPART_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(ca_key, kCaValiditySeconds));
  X509_NAME* name = X509_get_subject_name(cert.get());
  RAMPART_RETURN_IF_ERROR(SetName(name, "Rampart CA " + crypto::RandomHex(4)));
  if (X509_set_issuer_name(cert.get(), name) != 1) return Status::Internal("cannot set issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  RAMPART_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  RAMPART_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RAMPART_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) == 0) {
    return Status::Internal("cannot sign CA certificate");
  }
  return cert;
}

Result<X509Ptr> MakeServerCert(EVP_PKEY* server_key, X509* ca_cert, EVP_PKEY* ca_key,
                               const std::vector<std::string>& extra_names) {
  RAMPART_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(server_key, kServerValiditySeconds));
  RAMPART_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), "localhost"));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1) {
    return Status::Internal("cannot set issuer");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert, cert.get(), nullptr, nullptr, 0);
  RAMPART_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "CA:FALSE"));
  RAMPART_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  RAMPART_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth"));
  RAMPART_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  RAMPART_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  RAMPART_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), extra_names));
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) == 0) {
    return Status::Internal("cannot sign server certificate");
  }
  return cert;
}

}  // namespace

Result<TlsFiles> EnsureServerCertificate(const std::string& dir,
                                         const std::vector<std::string>& extra_names) {
  RAMPART_RETURN_IF_ERROR(files::EnsurePrivateDirectory(dir));
  const std::string ca_cert_path = dir + "/ca.pem";
  const std::string ca_key_path = dir + "/ca.key";
  TlsFiles files{ca_cert_path, dir + "/server.pem", dir + "/server.key"};

  bool have_ca_cert = Exists(ca_cert_path);
  bool have_ca_key = Exists(ca_key_path);
  bool have_server_cert = Exists(files.server_cert);
  bool have_server_key = Exists(files.server_key);
  // Half a pair means someone removed or replaced a file by hand; regenerating would silently
  // change what clients pin, so the operator decides.
  if (have_ca_cert != have_ca_key) {
    return Status::InvalidArgument("TLS directory holds only half of the CA pair");
  }
  if (have_server_cert != have_server_key) {
    return Status::InvalidArgument("TLS directory holds only half of the server pair");
  }
  if (!have_ca_cert && have_server_cert) {
    return Status::InvalidArgument("TLS directory holds a server certificate but no CA");
  }
  if (have_ca_cert && have_server_cert) return files;

  PkeyPtr ca_key;
  X509Ptr ca_cert;
  if (have_ca_cert) {
    RAMPART_ASSIGN_OR_RETURN(ca_key, LoadKey(ca_key_path));
    RAMPART_ASSIGN_OR_RETURN(ca_cert, LoadCert(ca_cert_path));
    if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
      return Status::InvalidArgument("CA key does not match CA certificate");
    }
  } else {
    RAMPART_ASSIGN_OR_RETURN(ca_key, GenerateKey());
    RAMPART_ASSIGN_OR_RETURN(ca_cert, MakeCa(ca_key.get()));
  }

  RAMPART_ASSIGN_OR_RETURN(PkeyPtr server_key, GenerateKey());
  RAMPART_ASSIGN_OR_RETURN(X509Ptr server_cert, MakeServerCert(server_key.get(), ca_cert.get(),
                                                               ca_key.get(), extra_names));

  // Keys land before certificates: a certificate file is what marks a pair as present.
  if (!have_ca_cert) {
    RAMPART_ASSIGN_OR_RETURN(std::string ca_key_pem, PemOfKey(ca_key.get()));
    RAMPART_ASSIGN_OR_RETURN(std::string ca_cert_pem, PemOfCert(ca_cert.get()));
    RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(ca_key_path, ca_key_pem));
    RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(ca_cert_path, ca_cert_pem));
  }
  RAMPART_ASSIGN_OR_RETURN(std::string server_key_pem, PemOfKey(server_key.get()));
  RAMPART_ASSIGN_OR_RETURN(std::string server_cert_pem, PemOfCert(server_cert.get()));
  RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(files.server_key, server_key_pem));
  RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(files.server_cert, server_cert_pem));
  return files;
}

Result<std::string> CertificateFingerprint(const std::string& pem_file) {
  RAMPART_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(pem_file));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &len) != 1) {
    return Status::Internal("cannot hash certificate");
  }
  return crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace rampart::http
