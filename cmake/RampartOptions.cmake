option(RAMPART_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(RAMPART_BUILD_BENCH "Build the benchmarks in bench/" ON)
option(RAMPART_BUILD_FUZZ "Build libFuzzer targets (needs clang)" OFF)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Every target gets warnings-as-errors and the hardening flags the foundation issue asks for.
add_compile_options(-Wall -Wextra -Werror -fstack-protector-strong -fPIE)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(RAMPART_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Boost.Asio: keep the heavy headers out of everything but http/ and agent/ sources.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED)
