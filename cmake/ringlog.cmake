# ringlog_library(NAME SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
#   One static library per folder. Headers are included by their path from the
#   repository root: #include "engine/runtime/task.h".
function(ringlog_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${arg_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${arg_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
endfunction()

# ringlog_binary(NAME SOURCES ... DEPS ...)
#   A binary we ship: mimalloc replaces malloc/free process-wide. The shared
#   library is linked with --no-as-needed because nothing references it by name;
#   interposition alone does the override. Sanitizer builds keep the sanitizer's
#   allocator, which must own every allocation to find errors.
function(ringlog_binary name)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_DEPS})
  if(NOT RINGLOG_SANITIZE)
    target_link_libraries(${name} PRIVATE -Wl,--no-as-needed mimalloc -Wl,--as-needed)
    target_compile_definitions(${name} PRIVATE RINGLOG_MIMALLOC=1)
  endif()
endfunction()

# ringlog_test(NAME SOURCES ... DEPS ...)
#   A GoogleTest binary; each TEST becomes its own ctest entry, discovered when
#   ctest runs (not at build time, which would run every binary on each build).
include(GoogleTest)
function(ringlog_test name)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(NOT arg_LABELS)
    set(arg_LABELS unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${arg_LABELS}" TIMEOUT 120)
endfunction()
