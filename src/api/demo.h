// `rampart serve --demo`: one demo institution with staff, groups, a baseline policy, an
// enrollment token for simulated devices, admin API tokens and a console admin user, so the
// five-minute tour works.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "keeper/keeper.h"
#include "store/store.h"

namespace rampart::api {

struct DemoSeed {
  std::string institution_id;
  std::string superadmin_token;  // fresh on every start: secrets are stored only as hashes
  std::string admin_token;       // institution admin of the demo institution
  std::string enrollment_token;  // max_uses 10000, 30 days
  std::string admin_username;    // a console user (admin of the demo institution)
  std::string admin_password;    // fresh on every start, like the tokens
  bool created = false;          // false when the institution already existed
};

// Idempotent: the institution, its staff (sealed by the keeper, plus `canaries` decoys), groups
// and policy are created on the first run only.
Result<DemoSeed> SeedDemo(store::Store& store, keeper::Keeper& keeper, const Clock& clock,
                          int staff_count, int canaries);

}  // namespace rampart::api
