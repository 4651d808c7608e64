// First-start TLS material: a private CA and a server certificate signed by it.
//
// EnsureServerCertificate(dir) creates, when missing, dir/ca.pem + dir/ca.key (the CA clients
// pin) and dir/server.pem + dir/server.key (the certificate the server presents, with subject
// alternative names for localhost, 127.0.0.1, ::1 and each extra name given). Keys are ECDSA
// P-256, files holding keys are mode 0600, the directory 0700. Existing files are left alone.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace rampart::http {

struct TlsFiles {
  std::string ca_cert;      // dir/ca.pem
  std::string server_cert;  // dir/server.pem
  std::string server_key;   // dir/server.key
};

Result<TlsFiles> EnsureServerCertificate(const std::string& dir,
                                         const std::vector<std::string>& extra_names = {});

// SHA-256 fingerprint (lower-case hex) of the first certificate in a PEM file.
Result<std::string> CertificateFingerprint(const std::string& pem_file);

}  // namespace rampart::http
