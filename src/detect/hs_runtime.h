// Which Vectorscan scan routine Rampart calls, and the platform it compiles databases for.
//
// Debian 12's libhs 5.4.9 is a "fat" build: hs_scan picks code for the CPU it runs on. Its
// AVX-512 code misses many matches that start 64 bytes or more into the buffer (`x[0-9]`,
// `a.`, `/a?`, `b+\d`, and single bytes such as `\x24` under HS_FLAG_SINGLEMATCH); its AVX2
// code misses a few (`,\n* ` after 16 to 31 bytes); its SSE code was seen to miss none. On
// first use this checks hs_scan with patterns of those shapes. When it misses one, scans go to
// the library's exported SSE 4.2 routine (`corei7_hs_scan`, else `core2_hs_scan`), provided it
// finds every probe, and databases are compiled for a platform without AVX. Otherwise hs_scan
// and the host's platform are used.
//
//   hs_compile_multi(..., HS_MODE_BLOCK, HsPlatform(), &db, &err);
//   HsScan(db, text.data(), text.size(), 0, scratch, &OnMatch, ctx);
//
// Thread-safe; the check runs once per process. Include only where hs.h is already needed.
#pragma once

#include <hs/hs.h>

#include <string_view>

namespace rampart::detect {

// hs_scan, or the library's SSE routine where hs_scan was seen to miss matches.
hs_error_t HsScan(const hs_database_t* db, const char* data, unsigned length, unsigned flags,
                  hs_scratch_t* scratch, match_event_handler on_match, void* context);

// The platform to compile for: null (the host) unless HsScan uses an SSE routine.
const hs_platform_info_t* HsPlatform();

// hs_compile_multi in block mode for HsPlatform(). With an SSE routine, a database that says
// it needs a CPU feature all the same is refused (HS_COMPILER_ERROR, *error null): those
// routines do not check, and crash on one built for AVX-512.
hs_error_t HsCompileMulti(const char* const* expressions, const unsigned* flags,
                          const unsigned* ids, unsigned count, hs_database_t** db,
                          hs_compile_error_t** error);

// How scans run, for `rampart rules check` and the server's start-up log: "hs_scan", or
// "corei7_hs_scan (hs_scan misses matches on this CPU)", or "hs_scan (misses matches on this
// CPU; no routine found that does not)".
std::string_view HsScanMode();

namespace hs_runtime_internal {
// Whether the library's exported scan routine `name` (avx512_hs_scan, avx2_hs_scan,
// corei7_hs_scan, core2_hs_scan) finds every probe in databases compiled for `platform`; false
// when the library has no such routine or this CPU cannot run it. For tests.
bool RoutineFindsEveryProbe(const char* name, const hs_platform_info_t* platform);

// Whether a checked snprintf call is libhs's debugging copy of the text it searches, which
// this file turns into a no-op (see hs_runtime.cc). For tests.
bool IsLibhsDebugCopy(const void* caller, size_t object_size, const char* format);
}  // namespace hs_runtime_internal

}  // namespace rampart::detect
