// Staff personal data through the keeper: sealing on write, canary records, and the pieces the
// staff routes and the demo seed share.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "core/model.h"
#include "keeper/keeper.h"
#include "store/store.h"

namespace rampart::api {

// Seals `fields` and fills the sealed columns, blind indexes and masks of `staff` (whose id and
// institution_id must be set). Unavailable when the keeper is down: nothing is stored in clear.
Status SealStaff(keeper::Keeper& keeper, const keeper::Caller& caller,
                 const keeper::StaffFields& fields, bool canary, core::Staff* staff);

// What the keeper needs to open a stored row.
keeper::SealedRef SealedRefOf(const core::Staff& staff);

// Creates `count` canary staff in the institution, shaped like `like` (same e-mail domain, same
// mobile country prefix, same department) so that nothing in the API sets them apart.
Status CreateCanaryStaff(store::Store& store, keeper::Keeper& keeper,
                         const std::string& institution_id, const keeper::StaffFields& like,
                         const std::string& department, int count, int64_t now);

}  // namespace rampart::api
