// Issuing bearer credentials: API tokens and enrollment tokens. The secret is returned once and
// only its SHA-256 is stored (a copy of the database does not yield usable tokens).
#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "core/model.h"
#include "store/store.h"

namespace rampart::api {

struct IssuedApiToken {
  core::ApiToken token;
  std::string secret;  // "rmp_..."
};

struct IssuedEnrollmentToken {
  core::EnrollmentToken token;
  std::string secret;  // "enr_..."
};

struct IssuedAdminUser {
  core::AdminUser user;
  std::string password;  // generated, shown once; only its argon2id hash is stored
};

// Creates a console user with a generated password (24 characters of base64url: 144 bits).
// institution_id must be empty for superadmin and name an existing institution otherwise.
// InvalidArgument for a username that is not 3-64 printable ASCII characters without spaces;
// AlreadyExists when the username is taken.
Result<IssuedAdminUser> IssueAdminUser(store::Store& store, const Clock& clock,
                                       const std::string& username, core::Role role,
                                       const std::string& institution_id);

// InvalidArgument unless 3-64 printable ASCII characters without spaces: usernames are typed at
// a login prompt and shown in audit trails, where look-alike characters would mislead.
Status CheckUsername(const std::string& username);

// institution_id must be empty for superadmin and set for every other role.
// expires_in_seconds 0 means no expiry. owner_id: the person behind the creator
// (Principal::person_id, see api/internal.h); empty for tokens the CLI makes.
Result<IssuedApiToken> IssueApiToken(store::Store& store, const Clock& clock, core::Role role,
                                     const std::string& institution_id, const std::string& name,
                                     int64_t expires_in_seconds, const std::string& owner_id = "");

Result<IssuedEnrollmentToken> IssueEnrollmentToken(store::Store& store, const Clock& clock,
                                                   const std::string& institution_id,
                                                   const std::string& staff_id, int64_t max_uses,
                                                   int64_t expires_in_seconds);

}  // namespace rampart::api
