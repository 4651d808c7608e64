#include "detect/hs_runtime.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace rampart::detect {

// Named rather than anonymous: the unity build puts this file beside others.
namespace hs_runtime_internal {

using ScanFunction = decltype(&hs_scan);

struct HsRuntime {
  ScanFunction scan = &hs_scan;
  bool sse_platform = false;
  hs_platform_info_t platform{};
  std::string_view mode = "hs_scan";
};

struct ProbeDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
struct ProbeScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

// Shapes libhs 5.4.9 was seen to miss, each with a text whose only match comes after
// `before` bytes: the AVX-512 code misses the first four past byte 64, the AVX2 code the last
// two when the match ends the buffer.
struct MissProbe {
  const char* pattern;
  unsigned flags;
  size_t before;
  const char* match;
};
constexpr MissProbe kMissProbes[] = {
    {"x[0-9]", HS_FLAG_SINGLEMATCH, 100, "x1"},
    {"\\x24", HS_FLAG_SINGLEMATCH, 100, "$"},
    {"a.", HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS, 100, "Ab"},
    {"b+\\d", HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL, 100, "bb7"},
    {",\\n* ", HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL, 20, ", "},
    {"xy*z", HS_FLAG_SINGLEMATCH, 20, "xz"},
};
// Whether the AVX-512 code misses depends on where the buffer sits: each text is scanned at
// these distances from a 64-byte boundary, with the match ending the buffer and not.
constexpr size_t kProbeAlignments[] = {0, 1, 27, 45};

bool FindsEveryProbe(ScanFunction scan, const hs_platform_info_t* platform) {
  for (const MissProbe& probe : kMissProbes) {
    hs_database_t* raw_db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile(probe.pattern, probe.flags, HS_MODE_BLOCK, platform, &raw_db, &err) !=
        HS_SUCCESS) {
      hs_free_compile_error(err);
      return false;
    }
    std::unique_ptr<hs_database_t, ProbeDatabaseDeleter> db(raw_db);
    hs_scratch_t* raw_scratch = nullptr;
    if (hs_alloc_scratch(db.get(), &raw_scratch) != HS_SUCCESS) return false;
    std::unique_ptr<hs_scratch_t, ProbeScratchDeleter> scratch(raw_scratch);
    for (const char* tail : {"", "qq"}) {
      std::string text(probe.before, 'q');
      text += probe.match;
      text += tail;
      auto buffer = std::make_unique<char[]>(text.size() + 128);
      auto base = reinterpret_cast<uintptr_t>(buffer.get());
      char* aligned = buffer.get() + ((64 - base % 64) % 64);
      for (size_t alignment : kProbeAlignments) {
        std::memcpy(aligned + alignment, text.data(), text.size());
        bool found = false;
        hs_error_t rc = scan(
            db.get(), aligned + alignment, static_cast<unsigned>(text.size()), 0, scratch.get(),
            [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
              *static_cast<bool*>(ctx) = true;
              return 0;
            },
            &found);
        if (rc != HS_SUCCESS || !found) return false;
      }
    }
  }
  return true;
}

// The exported routine of the libhs that provides hs_scan (not some other copy a plugin may
// carry), or null.
ScanFunction LookUpRoutine(const char* name) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&hs_scan), &info) == 0 || info.dli_fname == nullptr) {
    return nullptr;
  }
  void* library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (library == nullptr) return nullptr;
  auto routine = reinterpret_cast<ScanFunction>(dlsym(library, name));
  dlclose(library);  // (RTLD_NOLOAD: only drops the reference just taken)
  return routine;
}

// Whether this CPU has what a variant's code needs.
bool CpuRuns(std::string_view routine) {
  __builtin_cpu_init();
  if (routine == "corei7_hs_scan") {
    return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
  }
  if (routine == "core2_hs_scan") return __builtin_cpu_supports("ssse3");
  if (routine == "avx2_hs_scan") return __builtin_cpu_supports("avx2");
  if (routine == "avx512_hs_scan") {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  }
  return false;
}

HsRuntime ChooseRuntime() {
  HsRuntime runtime;
  if (FindsEveryProbe(&hs_scan, nullptr)) return runtime;
  runtime.mode = "hs_scan (misses matches on this CPU; no routine found that does not)";
  // The fat build exports each of its variants of the scan routine; none is in hs.h, so they
  // are looked up by name rather than linked, and each must find every probe before it is
  // used. Random patterns and texts (tests/detect/class_sequence_test.cc) found no miss in
  // the SSE variants, a few in the AVX2 one and many in the AVX-512 one.
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) != HS_SUCCESS) return runtime;
  platform.cpu_features = 0;  // databases the SSE variants can run
  for (const char* name : {"corei7_hs_scan", "core2_hs_scan"}) {
    if (!CpuRuns(name)) continue;
    ScanFunction scan = LookUpRoutine(name);
    if (scan == nullptr || !FindsEveryProbe(scan, &platform)) continue;
    runtime.scan = scan;
    runtime.sse_platform = true;
    runtime.platform = platform;
    runtime.mode = name == std::string_view("corei7_hs_scan")
                       ? "corei7_hs_scan (hs_scan misses matches on this CPU)"
                       : "core2_hs_scan (hs_scan misses matches on this CPU)";
    return runtime;
  }
  return runtime;
}

const HsRuntime& TheRuntime() {
  static const HsRuntime runtime = ChooseRuntime();
  return runtime;
}

bool RoutineFindsEveryProbe(const char* name, const hs_platform_info_t* platform) {
  ScanFunction scan = LookUpRoutine(name);
  return scan != nullptr && CpuRuns(name) && FindsEveryProbe(scan, platform);
}

}  // namespace hs_runtime_internal

hs_error_t HsScan(const hs_database_t* db, const char* data, unsigned length, unsigned flags,
                  hs_scratch_t* scratch, match_event_handler on_match, void* context) {
  return hs_runtime_internal::TheRuntime().scan(db, data, length, flags, scratch, on_match,
                                                context);
}

const hs_platform_info_t* HsPlatform() {
  const hs_runtime_internal::HsRuntime& runtime = hs_runtime_internal::TheRuntime();
  return runtime.sse_platform ? &runtime.platform : nullptr;
}

hs_error_t HsCompileMulti(const char* const* expressions, const unsigned* flags,
                          const unsigned* ids, unsigned count, hs_database_t** db,
                          hs_compile_error_t** error) {
  hs_error_t rc =
      hs_compile_multi(expressions, flags, ids, count, HS_MODE_BLOCK, HsPlatform(), db, error);
  if (rc != HS_SUCCESS || HsPlatform() == nullptr) return rc;
  // The SSE routines run whatever they are given, and crash on a database built for AVX-512:
  // refuse one that says it needs any CPU feature.
  char* info = nullptr;
  bool plain = false;
  if (hs_database_info(*db, &info) == HS_SUCCESS && info != nullptr) {
    // "Version: 5.4.9 Features:  Mode: BLOCK": nothing between "Features:" and "Mode:".
    std::string_view text(info);
    size_t features = text.find("Features:");
    if (features != std::string_view::npos) {
      std::string_view rest = text.substr(features + 9);
      size_t word = rest.find_first_not_of(' ');
      plain = word == std::string_view::npos || rest.substr(word).starts_with("Mode:");
    }
  }
  std::free(info);
  if (plain) return HS_SUCCESS;
  hs_free_database(*db);
  *db = nullptr;
  *error = nullptr;
  return HS_COMPILER_ERROR;
}

std::string_view HsScanMode() {
  return hs_runtime_internal::TheRuntime().mode;
}

}  // namespace rampart::detect

// libhs 5.4.9's reverse double-byte search (`rvermicelliDoubleExec`, reached by patterns such
// as `a.*[,\x0c]{2}`) starts with a debugging copy the library never reads:
// `char s[255]; snprintf(s, end - start + 1, "%s", start)`. Built with _FORTIFY_SOURCE, that is
// `__snprintf_chk(s, length + 1, 1, 255, "%s", start)`, and glibc aborts the process when the
// searched range is longer than 255 bytes. Below that it still reads the text up to the next
// NUL, past the range it was given. Definitions in the executable come first in symbol
// lookup, so this one receives the library's calls: that exact call from inside libhs writes
// an empty string and reads nothing; every other call goes on to glibc's checked routine
// unchanged.
extern "C" int __vsnprintf_chk(char* __restrict s, size_t length, int flag, size_t object_size,
                               const char* __restrict format, va_list args) noexcept;

namespace rampart::detect::hs_runtime_internal {
namespace {

struct AddressRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  bool Holds(uintptr_t address) const { return address >= begin && address < end; }
};

// The loaded segments of the object that holds hs_scan.
AddressRange LibraryHoldingHsScan() {
  struct Search {
    uintptr_t target;
    AddressRange range;
  } search{reinterpret_cast<uintptr_t>(&hs_scan), {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* search = static_cast<Search*>(data);
        AddressRange range{UINTPTR_MAX, 0};
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& segment = info->dlpi_phdr[i];
          if (segment.p_type != PT_LOAD) continue;
          uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
          range.begin = std::min(range.begin, begin);
          range.end = std::max(range.end, begin + segment.p_memsz);
        }
        if (!range.Holds(search->target)) return 0;
        search->range = range;
        return 1;
      },
      &search);
  return search.range;
}

}  // namespace

bool IsLibhsDebugCopy(const void* caller, size_t object_size, const char* format) {
  if (object_size != 255 || std::strcmp(format, "%s") != 0) return false;
  static const AddressRange libhs = LibraryHoldingHsScan();
  return libhs.Holds(reinterpret_cast<uintptr_t>(caller));
}

}  // namespace rampart::detect::hs_runtime_internal

extern "C" int __snprintf_chk(char* __restrict s, size_t length, int flag, size_t object_size,
                              const char* __restrict format, ...) noexcept {
  if (rampart::detect::hs_runtime_internal::IsLibhsDebugCopy(__builtin_return_address(0),
                                                             object_size, format)) {
    s[0] = '\0';
    return 0;
  }
  va_list args;
  va_start(args, format);
  const int written = __vsnprintf_chk(s, length, flag, object_size, format, args);
  va_end(args);
  return written;
}
