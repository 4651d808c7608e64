#include "cli/commands.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "store/store.h"

namespace rampart::cli {

std::string DatabasePath(const std::string& d) {
  return d + "/rampart.db";
}
std::string TlsDir(const std::string& d) {
  return d + "/tls";
}
std::string AppsDir(const std::string& d) {
  return d + "/apps";
}
std::string KeysDir(const std::string& d) {
  return d + "/keys";
}

namespace {

bool MakeDir(const std::string& path, std::string* error) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = path + " is not a directory";
    return false;
  }
  // Keys, certificates and the database live here: tighten a directory that was created with
  // looser permissions before Rampart first ran.
  if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0700) != 0) {
    *error = "cannot restrict " + path + " to mode 0700: " + std::strerror(errno);
    return false;
  }
  return true;
}

int Fail(const Status& s) {
  std::cerr << "rampart: " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound ? 2 : 1;
}

// Creates the data directory and database when missing, so that an operator can provision
// institutions and tokens before the first `rampart serve`.
Result<std::unique_ptr<store::Store>> OpenDataDir(const std::string& data_dir) {
  std::string error;
  if (PrepareDataDir(data_dir, &error) != 0) return Status::Internal(error);
  return store::OpenStore("sqlite:" + DatabasePath(data_dir));
}

// A name shown in consoles and logs: 1..max_len characters, no control characters.
Status CheckLabel(const std::string& name, const std::string& what, size_t max_len) {
  if (name.empty() || name.size() > max_len) {
    return Status::InvalidArgument(what + " must have 1 to " + std::to_string(max_len) +
                                   " characters");
  }
  for (unsigned char ch : name) {
    if (ch < 0x20 || ch == 0x7f) {
      return Status::InvalidArgument(what + " must not contain control characters");
    }
  }
  return Status::Ok();
}

}  // namespace

int PrepareDataDir(const std::string& data_dir, std::string* error) {
  // Parents are created like `mkdir -p`; the data directory itself and its children are 0700.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(data_dir).parent_path(), ec);
  for (const auto& dir : {data_dir, TlsDir(data_dir), AppsDir(data_dir), KeysDir(data_dir)}) {
    if (!MakeDir(dir, error)) return 1;
  }
  return 0;
}

int InstitutionCreate(const std::string& data_dir, const std::string& name) {
  if (Status s = CheckLabel(name, "institution name", 200); !s.ok()) return Fail(s);
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return Fail(store.status());
  core::Institution inst{core::NewId("ins"), name, SystemClock::Instance().NowSeconds()};
  Status s = (*store)->CreateInstitution(inst);
  if (!s.ok()) return Fail(s);
  std::cout << inst.id << "\n";
  return 0;
}

int TokenCreate(const std::string& data_dir, const std::string& role_name,
                const std::string& institution_id, const std::string& name,
                int64_t expires_in_seconds) {
  auto role = core::ParseRole(role_name);
  if (!role) {
    return Fail(
        Status::InvalidArgument("role must be superadmin, admin, helpdesk, analyst or auditor"));
  }
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return Fail(store.status());
  if (!institution_id.empty()) {
    auto inst = (*store)->GetInstitution(store::Scope::Institution(institution_id), institution_id);
    if (!inst.ok()) return Fail(Status::NotFound("no institution " + institution_id));
  }
  auto issued = api::IssueApiToken(**store, SystemClock::Instance(), *role, institution_id, name,
                                   expires_in_seconds);
  if (!issued.ok()) return Fail(issued.status());
  std::cout << issued->secret << "\n";
  return 0;
}

int UserCreate(const std::string& data_dir, const std::string& username,
               const std::string& role_name, const std::string& institution_id) {
  auto role = core::ParseRole(role_name);
  if (!role) {
    return Fail(
        Status::InvalidArgument("role must be superadmin, admin, helpdesk, analyst or auditor"));
  }
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return Fail(store.status());
  auto issued =
      api::IssueAdminUser(**store, SystemClock::Instance(), username, *role, institution_id);
  if (!issued.ok()) return Fail(issued.status());
  // The id goes to stderr so that scripts can capture the password alone from stdout.
  std::cerr << "created user " << issued->user.id << "\n";
  std::cout << issued->password << "\n";
  return 0;
}

int BouncerKeyCreate(const std::string& data_dir, const std::string& name) {
  if (Status s = CheckLabel(name, "bouncer name", 100); !s.ok()) return Fail(s);
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return Fail(store.status());
  store::BouncerKey key;
  key.id = core::NewId("bnc");
  key.name = name;
  const std::string secret = "rmb_" + crypto::RandomHex(32);
  key.key_hash = crypto::Sha256Hex(secret);
  key.created_at = SystemClock::Instance().NowSeconds();
  Status s = (*store)->CreateBouncerKey(key);
  if (!s.ok()) return Fail(s);
  std::cerr << "created bouncer key " << key.id << "\n";
  std::cout << secret << "\n";
  return 0;
}

int EnrollmentCreate(const std::string& data_dir, const std::string& institution_id,
                     const std::string& staff_id, int64_t max_uses, int64_t expires_in_seconds) {
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return Fail(store.status());
  store::Scope scope = store::Scope::Institution(institution_id);
  if (!(*store)->GetInstitution(scope, institution_id).ok()) {
    return Fail(Status::NotFound("no institution " + institution_id));
  }
  if (!staff_id.empty() && !(*store)->GetStaff(scope, staff_id).ok()) {
    return Fail(Status::NotFound("no staff member " + staff_id + " in that institution"));
  }
  auto issued = api::IssueEnrollmentToken(**store, SystemClock::Instance(), institution_id,
                                          staff_id, max_uses, expires_in_seconds);
  if (!issued.ok()) return Fail(issued.status());
  std::cout << issued->secret << "\n";
  return 0;
}

}  // namespace rampart::cli
