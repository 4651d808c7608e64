// The `rampart admin ...` commands operators' scripts call. Each opens the data directory's
// store directly, creating the directory and database when missing (safe beside a running
// server: SQLite WAL), prints its result on stdout and
// returns the process exit code; errors go to stderr with a non-zero code.
#pragma once

#include <cstdint>
#include <string>

namespace rampart::cli {

// Layout of a data directory.
std::string DatabasePath(const std::string& data_dir);  // DATA/rampart.db
std::string TlsDir(const std::string& data_dir);        // DATA/tls
std::string AppsDir(const std::string& data_dir);       // DATA/apps
std::string KeysDir(const std::string& data_dir);       // DATA/keys

// Creates DATA and its sub-folders with mode 0700 (keys and TLS material live there).
int PrepareDataDir(const std::string& data_dir, std::string* error);

int InstitutionCreate(const std::string& data_dir, const std::string& name);
int TokenCreate(const std::string& data_dir, const std::string& role,
                const std::string& institution_id, const std::string& name,
                int64_t expires_in_seconds);
// Creates a console user and prints its generated password once (only its hash is stored).
int UserCreate(const std::string& data_dir, const std::string& username, const std::string& role,
               const std::string& institution_id);
// Creates an API key for a CrowdSec bouncer (GET /v1/decisions/stream, header X-Api-Key) and
// prints it once; only its SHA-256 is stored.
int BouncerKeyCreate(const std::string& data_dir, const std::string& name);
int EnrollmentCreate(const std::string& data_dir, const std::string& institution_id,
                     const std::string& staff_id, int64_t max_uses, int64_t expires_in_seconds);

}  // namespace rampart::cli
