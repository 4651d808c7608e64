# rampart_library(NAME SOURCES a.cc b.cc DEPS other_lib ...)
# A static library for one component; include paths are rooted at src/ so that includes read
# "common/status.h", "store/store.h" and so on.
function(rampart_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# rampart_test(NAME SOURCES a_test.cc b_test.cc ... DEPS lib ... [LABELS l] [TIMEOUT s]
#              [NEEDS target ...])
# One GoogleTest executable for a component's test files, registered with CTest as one test per
# source file (NAME/file_stem) that runs the executable filtered to the suites the file declares.
# One link per component instead of one per file, and the unity batches parse gtest and json once
# (CI builds everything twice, once with sanitizers); `ctest -j` still runs the files in parallel
# and a failure still names its file. A suite name may therefore appear in one file only.
# NEEDS: binaries the tests start as child processes (the e2e tests run build/bin/rampart).
function(rampart_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS;NEEDS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    RAMPART_SOURCE_DIR="${CMAKE_SOURCE_DIR}" RAMPART_BINARY_DIR="${CMAKE_BINARY_DIR}")
  if(ARG_NEEDS)
    add_dependencies(${name} ${ARG_NEEDS})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(seen_suites "")
  foreach(source IN LISTS ARG_SOURCES)
    set(path ${CMAKE_CURRENT_SOURCE_DIR}/${source})
    # Re-run CMake when a file gains or loses a suite, so its filter stays exact.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
    file(STRINGS ${path} declarations
         REGEX "^[ \t]*(TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\\([ \t]*[A-Za-z0-9_]+")
    set(filter "")
    set(file_suites "")
    foreach(declaration IN LISTS declarations)
      string(REGEX REPLACE "^[ \t]*[A-Z_]+\\([ \t]*([A-Za-z0-9_]+).*" "\\1" suite "${declaration}")
      if(suite IN_LIST file_suites)
        continue()
      endif()
      if(suite IN_LIST seen_suites)
        message(FATAL_ERROR "${source}: test suite ${suite} is also declared by another file of ${name}")
      endif()
      list(APPEND file_suites ${suite})
      list(APPEND seen_suites ${suite})
      # Parameterised suites run as Instantiation/Suite.Test/N.
      string(APPEND filter "${suite}.*:*/${suite}.*:")
    endforeach()
    if(filter STREQUAL "")
      message(FATAL_ERROR "${source}: no TEST/TEST_F/TEST_P declarations found")
    endif()
    get_filename_component(stem ${source} NAME_WE)
    set(test_name ${name}/${stem})
    add_test(NAME ${test_name} COMMAND ${name} --gtest_filter=${filter})
    set_tests_properties(${test_name} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
    if(ARG_LABELS)
      set_tests_properties(${test_name} PROPERTIES LABELS "${ARG_LABELS}")
    endif()
  endforeach()
endfunction()

# rampart_fuzzer(NAME SOURCES f.cc DEPS lib ... CORPUS dir): a libFuzzer target (clang only).
function(rampart_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()
