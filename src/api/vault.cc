#include "api/vault.h"

#include <array>

#include "common/crypto.h"
#include "common/text.h"

namespace rampart::api {
namespace {

// Common European names: a canary must look like any colleague.
constexpr std::array<std::string_view, 16> kCanaryFirst{
    "Marta", "Pieter",  "Ioana", "Jonas", "Claire", "Matteo", "Katarzyna", "Henrik",
    "Sara",  "Dimitri", "Lena",  "Ruben", "Agnes",  "Tobias", "Elif",      "Vincent"};
constexpr std::array<std::string_view, 16> kCanaryLast{
    "Verhoeven", "Lindqvist", "Moreau", "Kovacs", "Ferreira", "Wagner", "Nowak",  "Rinaldi",
    "Hansen",    "Popescu",   "Meijer", "Lopez",  "Svoboda",  "Keller", "Murphy", "Andersen"};

uint32_t RandomBelow(uint32_t n) {
  std::string b = crypto::RandomBytes(4);
  uint32_t v = (uint32_t{static_cast<unsigned char>(b[0])} << 24) |
               (uint32_t{static_cast<unsigned char>(b[1])} << 16) |
               (uint32_t{static_cast<unsigned char>(b[2])} << 8) |
               uint32_t{static_cast<unsigned char>(b[3])};
  return v % n;
}

// A number in the same format as `like`: its first four digits (country code and operator
// prefix, e.g. "+32 47") kept, then random digits in the same positions.
std::string MobileLike(std::string_view like) {
  if (like.empty()) return "";
  std::string out;
  size_t digits_seen = 0;
  for (char ch : like) {
    if (ch >= '0' && ch <= '9') {
      ++digits_seen;
      out += digits_seen <= 4 ? ch : static_cast<char>('0' + RandomBelow(10));
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

Status SealStaff(keeper::Keeper& keeper, const keeper::Caller& caller,
                 const keeper::StaffFields& fields, bool canary, core::Staff* staff) {
  RAMPART_ASSIGN_OR_RETURN(keeper::SealedStaff sealed,
                           keeper.Seal({caller, staff->institution_id, staff->id, fields, canary}));
  staff->sealed = std::move(sealed.ciphertext);
  staff->wrapped_key = std::move(sealed.wrapped_key);
  staff->key_version = sealed.key_version;
  staff->mobile_index = std::move(sealed.mobile_index);
  staff->email_index = std::move(sealed.email_index);
  staff->masked_name = std::move(sealed.masked.name);
  staff->masked_mobile = std::move(sealed.masked.mobile);
  staff->masked_email = std::move(sealed.masked.email);
  return Status::Ok();
}

keeper::SealedRef SealedRefOf(const core::Staff& staff) {
  return {staff.institution_id, staff.id, staff.sealed, staff.wrapped_key, staff.key_version};
}

Status CreateCanaryStaff(store::Store& store, keeper::Keeper& keeper,
                         const std::string& institution_id, const keeper::StaffFields& like,
                         const std::string& department, int count, int64_t now) {
  std::string domain;
  if (auto at = like.email.rfind('@'); at != std::string::npos) domain = like.email.substr(at);
  keeper::Caller system{"system", "", institution_id, "", "", "staff.canary_create"};
  for (int i = 0; i < count; ++i) {
    std::string_view first = kCanaryFirst[RandomBelow(kCanaryFirst.size())];
    std::string_view last = kCanaryLast[RandomBelow(kCanaryLast.size())];
    keeper::StaffFields fields;
    fields.name = std::string(first) + " " + std::string(last);
    fields.mobile = MobileLike(like.mobile);
    if (!domain.empty()) fields.email = AsciiLower(first) + "." + AsciiLower(last) + domain;
    core::Staff s;
    s.id = core::NewId("stf");
    s.institution_id = institution_id;
    s.department = department;
    s.created_at = s.updated_at = now;
    RAMPART_RETURN_IF_ERROR(SealStaff(keeper, system, fields, true, &s));
    RAMPART_RETURN_IF_ERROR(store.CreateStaff(s));
  }
  return Status::Ok();
}

}  // namespace rampart::api
