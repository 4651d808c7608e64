// Helpers shared by the audit tests: a temporary log directory, a test checkpoint key, and
// line-level surgery on records.jsonl the way an attacker with file access would do it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "audit/log.h"
#include "common/crypto.h"

namespace rampart::audit::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rampart-audit-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  WriteText(path, text);
}

inline Record SampleRecord(int i) {
  Record r;
  r.actor = "tok_" + std::to_string(i);
  r.action = i % 2 == 0 ? "staff.decrypt" : "command.sign";
  r.target = "stf_" + std::to_string(1000 + i);
  r.outcome = "success";
  r.institution_id = "ins_demo";
  r.request_id = "req_" + std::to_string(i);
  r.source_ip = "10.0.0." + std::to_string(i % 250);
  r.details_json = R"({"purpose":"staff.reveal","count":)" + std::to_string(i) + "}";
  return r;
}

struct TestKey {
  TestKey() {
    if (!crypto::InitCrypto().ok()) std::abort();
    pair = crypto::GenerateEd25519();
  }
  crypto::Ed25519KeyPair pair;
  Signer signer() const {
    return
        [this](std::string_view message) { return crypto::SignEd25519(pair.secret_key, message); };
  }
};

}  // namespace rampart::audit::testing
