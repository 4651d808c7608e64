#include "api/credentials.h"

#include "common/crypto.h"
#include "core/permissions.h"

namespace rampart::api {

Result<IssuedApiToken> IssueApiToken(store::Store& store, const Clock& clock, core::Role role,
                                     const std::string& institution_id, const std::string& name,
                                     int64_t expires_in_seconds, const std::string& owner_id) {
  if (core::IsCrossInstitution(role) != institution_id.empty()) {
    return Status::InvalidArgument(
        "a superadmin token takes no institution; every other role needs one");
  }
  IssuedApiToken out;
  out.secret = crypto::RandomToken("rmp");
  core::ApiToken& tok = out.token;
  tok.id = core::NewId("tok");
  tok.name = name;
  tok.token_hash = crypto::Sha256Hex(out.secret);
  tok.role = role;
  tok.institution_id = institution_id;
  tok.owner_id = owner_id;
  tok.created_at = clock.NowSeconds();
  tok.expires_at = expires_in_seconds > 0 ? tok.created_at + expires_in_seconds : 0;
  RAMPART_RETURN_IF_ERROR(store.CreateApiToken(tok));
  return out;
}

Status CheckUsername(const std::string& username) {
  if (username.size() < 3 || username.size() > 64) {
    return Status::InvalidArgument("a username needs 3 to 64 characters");
  }
  for (unsigned char ch : username) {
    if (ch <= 0x20 || ch >= 0x7f) {
      return Status::InvalidArgument(
          "a username may hold only printable ASCII characters without spaces");
    }
  }
  return Status::Ok();
}

Result<IssuedAdminUser> IssueAdminUser(store::Store& store, const Clock& clock,
                                       const std::string& username, core::Role role,
                                       const std::string& institution_id) {
  RAMPART_RETURN_IF_ERROR(CheckUsername(username));
  if (core::IsCrossInstitution(role) != institution_id.empty()) {
    return Status::InvalidArgument(
        "a superadmin user takes no institution; every other role needs one");
  }
  if (!institution_id.empty() &&
      !store.GetInstitution(store::Scope::Institution(institution_id), institution_id).ok()) {
    return Status::NotFound("institution not found");
  }
  IssuedAdminUser out;
  out.password = crypto::Base64UrlEncode(crypto::RandomBytes(18));
  core::AdminUser& u = out.user;
  u.id = core::NewId("usr");
  u.username = username;
  u.role = role;
  u.institution_id = institution_id;
  RAMPART_ASSIGN_OR_RETURN(u.password_hash, crypto::HashPassword(out.password));
  u.created_at = u.updated_at = u.password_changed_at = clock.NowSeconds();
  RAMPART_RETURN_IF_ERROR(store.CreateAdminUser(u));
  return out;
}

Result<IssuedEnrollmentToken> IssueEnrollmentToken(store::Store& store, const Clock& clock,
                                                   const std::string& institution_id,
                                                   const std::string& staff_id, int64_t max_uses,
                                                   int64_t expires_in_seconds) {
  if (max_uses < 1) return Status::InvalidArgument("max uses must be at least 1");
  if (expires_in_seconds < 1) return Status::InvalidArgument("expiry must be in the future");
  IssuedEnrollmentToken out;
  out.secret = crypto::RandomToken("enr");
  core::EnrollmentToken& tok = out.token;
  tok.id = core::NewId("ent");
  tok.institution_id = institution_id;
  tok.staff_id = staff_id;
  tok.token_hash = crypto::Sha256Hex(out.secret);
  tok.max_uses = max_uses;
  tok.created_at = clock.NowSeconds();
  tok.expires_at = tok.created_at + expires_in_seconds;
  RAMPART_RETURN_IF_ERROR(store.CreateEnrollmentToken(tok));
  return out;
}

}  // namespace rampart::api
