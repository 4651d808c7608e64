#include "agent/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/json_util.h"

namespace rampart::agent {

using nlohmann::json;
namespace ju = rampart::jsonutil;

namespace {

constexpr int64_t kStateVersion = 1;
constexpr size_t kMaxStateFileBytes = 16 * 1024 * 1024;

std::string Errno() {
  return std::strerror(errno);
}

Status WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Internal("write failed: " + Errno());
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string_view EffectName(Effect e) {
  switch (e) {
    case Effect::kForgetEnrollment:
      return "forget_enrollment";
    case Effect::kRetire:
      return "retire";
    case Effect::kNone:
      break;
  }
  return "none";
}

json OutcomeToJson(const Outcome& o) {
  return {{"status", o.status},
          {"result", o.result},
          {"error", o.error},
          {"effect", EffectName(o.effect)}};
}

Result<Outcome> OutcomeFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("outcome must be an object");
  Outcome o;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "status", &o.status, true, 32));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "error", &o.error, false, 4096));
  auto r = j.find("result");
  if (r != j.end() && !r->is_null()) o.result = *r;
  std::string effect = "none";
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "effect", &effect, false, 32));
  if (effect == "forget_enrollment") {
    o.effect = Effect::kForgetEnrollment;
  } else if (effect == "retire") {
    o.effect = Effect::kRetire;
  } else if (effect != "none") {
    return Status::InvalidArgument("unknown outcome effect");
  }
  return o;
}

Status GetKey(const json& j, std::string_view key, size_t bytes, std::string* out) {
  std::string b64;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, key, &b64, true, 256));
  auto raw = crypto::Base64Decode(b64);
  if (!raw.ok() || raw->size() != bytes) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be base64 of " +
                                   std::to_string(bytes) + " bytes");
  }
  *out = std::move(raw).value();
  return Status::Ok();
}

Result<AgentState> ParseState(const json& j) {
  AgentState s;
  int64_t version = 0;
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "version", &version, true, 1, 1000));
  if (version != kStateVersion) {
    return Status::InvalidArgument("unsupported version " + std::to_string(version));
  }
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "server_url", &s.server_url, true, 2048));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "ca_file", &s.ca_file, true, 4096));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "device_id", &s.device_id, true, 128));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "institution_id", &s.institution_id, true, 128));
  RAMPART_RETURN_IF_ERROR(
      ju::GetString(j, "server_identity_key", &s.server_identity_key, false, 128));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "tls_ca_sha256", &s.tls_ca_sha256, false, 64));
  RAMPART_RETURN_IF_ERROR(GetKey(j, "public_key", crypto::kEd25519PublicKeyBytes, &s.public_key));
  RAMPART_RETURN_IF_ERROR(GetKey(j, "secret_key", crypto::kEd25519SecretKeyBytes, &s.secret_key));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "model", &s.model, true, 256));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "serial", &s.serial, true, 256));
  std::string ownership;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "ownership", &ownership, true, 16));
  auto own = core::ParseOwnership(ownership);
  if (!own) return Status::InvalidArgument("field 'ownership' must be 'corporate' or 'personal'");
  s.ownership = *own;
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "checkin_interval_seconds", &s.checkin_interval_seconds,
                                     true, 1, 7 * 24 * 3600));
  RAMPART_RETURN_IF_ERROR(
      ju::GetInt(j, "last_command_seq", &s.trust.low_watermark, true, 0, INT64_MAX));
  auto key = j.find("command_key");
  if (key != j.end() && !key->is_null()) {
    if (!key->is_object()) return Status::InvalidArgument("field 'command_key' must be an object");
    RAMPART_RETURN_IF_ERROR(ju::GetString(*key, "key_id", &s.trust.pin.key_id, true, 128));
    RAMPART_RETURN_IF_ERROR(
        GetKey(*key, "public_key", crypto::kEd25519PublicKeyBytes, &s.trust.pin.public_key));
  }
  auto recent = j.find("recent_command_ids");
  if (recent != j.end() && !recent->is_null()) {
    if (!recent->is_array() || recent->size() > kRecentCommandIds) {
      return Status::InvalidArgument("field 'recent_command_ids' must be a short array");
    }
    for (const auto& id : *recent) {
      if (!id.is_string() || id.get_ref<const std::string&>().size() > 128) {
        return Status::InvalidArgument("field 'recent_command_ids' must hold command ids");
      }
      s.trust.recent_ids.push_back(id.get<std::string>());
    }
  }
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "last_checkin_at", &s.last_checkin_at, true, 0, INT64_MAX));
  auto pending = j.find("pending_results");
  if (pending == j.end() || !pending->is_array()) {
    return Status::InvalidArgument("field 'pending_results' must be an array");
  }
  for (const auto& p : *pending) {
    if (!p.is_object()) return Status::InvalidArgument("a pending result must be an object");
    PendingResult pr;
    RAMPART_RETURN_IF_ERROR(ju::GetString(p, "command_id", &pr.command_id, true, 128));
    auto o = p.find("outcome");
    if (o == p.end()) return Status::InvalidArgument("a pending result needs an 'outcome'");
    RAMPART_ASSIGN_OR_RETURN(pr.outcome, OutcomeFromJson(*o));
    s.pending_results.push_back(std::move(pr));
  }
  std::string platform;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "platform", &platform, true, 16));
  auto dev = j.find("device");
  if (dev == j.end()) return Status::InvalidArgument("field 'device' is required");
  RAMPART_ASSIGN_OR_RETURN(s.device, SimDeviceFromJson(*dev));
  if (platform != core::ToString(s.device.platform)) {
    return Status::InvalidArgument("field 'platform' disagrees with the device's platform");
  }
  return s;
}

}  // namespace

std::string StateToJson(const AgentState& s) {
  json pending = json::array();
  for (const auto& p : s.pending_results) {
    pending.push_back({{"command_id", p.command_id}, {"outcome", OutcomeToJson(p.outcome)}});
  }
  json j = {
      {"version", kStateVersion},
      {"server_url", s.server_url},
      {"ca_file", s.ca_file},
      {"device_id", s.device_id},
      {"institution_id", s.institution_id},
      {"server_identity_key", s.server_identity_key},
      {"tls_ca_sha256", s.tls_ca_sha256},
      {"public_key", crypto::Base64Encode(s.public_key)},
      {"secret_key", crypto::Base64Encode(s.secret_key)},
      {"platform", core::ToString(s.device.platform)},
      {"model", s.model},
      {"serial", s.serial},
      {"ownership", core::ToString(s.ownership)},
      {"checkin_interval_seconds", s.checkin_interval_seconds},
      {"last_command_seq", s.trust.low_watermark},
      {"recent_command_ids",
       json(std::vector<std::string>(s.trust.recent_ids.begin(), s.trust.recent_ids.end()))},
      {"last_checkin_at", s.last_checkin_at},
      {"pending_results", pending},
      {"device", SimDeviceToJson(s.device)},
  };
  if (!s.trust.pin.key_id.empty()) {
    j["command_key"] = {{"key_id", s.trust.pin.key_id},
                        {"public_key", crypto::Base64Encode(s.trust.pin.public_key)}};
  }
  return j.dump(2) + "\n";
}

Result<AgentState> StateFromJson(const std::string& text) {
  RAMPART_ASSIGN_OR_RETURN(json j, ju::ParseObject(text));
  return ParseState(j);
}

Status SaveState(const std::string& path, const AgentState& state) {
  std::string data = StateToJson(state);
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file with mode 0600, so the secret key is never readable by others.
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return Status::Internal("cannot create a temporary file next to " + path + ": " + Errno());
  Status s = WriteAll(fd, data);
  if (s.ok() && ::fchmod(fd, 0600) != 0) s = Status::Internal("fchmod failed: " + Errno());
  if (s.ok() && ::fsync(fd) != 0) s = Status::Internal("fsync failed: " + Errno());
  if (::close(fd) != 0 && s.ok()) s = Status::Internal("close failed: " + Errno());
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::Internal("rename failed: " + Errno());
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return Status::Internal("cannot write state file " + path + ": " + s.message());
  }
  // The rename is durable only once the directory entry is flushed too.
  int dfd = ::open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<AgentState> LoadState(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("state file " + path +
                              " does not exist (enroll first with `rampart-agent enroll`)");
    }
    return Status::Internal("cannot open state file " + path + ": " + Errno());
  }
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = Errno();
      ::close(fd);
      return Status::Internal("cannot read state file " + path + ": " + err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxStateFileBytes) {
      ::close(fd);
      return Status::InvalidArgument("state file " + path + " is corrupt: larger than 16 MiB");
    }
  }
  ::close(fd);
  auto state = StateFromJson(data);
  if (!state.ok()) {
    return Status::InvalidArgument("state file " + path +
                                   " is corrupt: " + state.status().message());
  }
  return state;
}

Status RemoveState(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("cannot delete state file " + path + ": " + Errno());
  }
  return Status::Ok();
}

}  // namespace rampart::agent
