# courier_add_module(NAME SOURCES ... DEPENDS ... [LIBS ...])
#
# One library target per layer of the system (docs/architecture.md). The layering rule
# is enforced by include paths, not by convention: each module's headers are reachable
# only through a private include root, build/include/<module>/courier/<module>, that a
# target sees only when it links the module. So `#include "courier/comm/..."` inside nn
# fails to compile, because nn does not (and may not) link comm.
#
# DEPENDS names courier modules (the allowed arrows); LIBS names third-party targets.
function(courier_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LIBS" ${ARGN})
  set(include_root ${CMAKE_BINARY_DIR}/include/${name})
  file(MAKE_DIRECTORY ${include_root}/courier)
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${include_root}/courier/${name} SYMBOLIC)

  add_library(courier_${name} STATIC ${ARG_SOURCES})
  add_library(courier::${name} ALIAS courier_${name})
  target_include_directories(courier_${name} PUBLIC ${include_root})
  target_link_libraries(courier_${name}
    PUBLIC ${ARG_DEPENDS} ${ARG_LIBS}
    PRIVATE courier_flags)
  set_target_properties(courier_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# courier_add_test(NAME SOURCES ... LINK ... LABELS ...)
# One GoogleTest binary per module; each TEST becomes a CTest entry with the given labels.
# A unity build in every preset: test files are small and all parse GoogleTest, gmock and fmt,
# so batches of 8 compile in half the CPU time (CI builds the tests three times). Helpers in a
# test file's anonymous namespace therefore need names of their own within the binary. The
# modules stay one file a translation unit: their files keep same-named file-local helpers.
function(courier_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LINK;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON)
  target_link_libraries(${name} PRIVATE ${ARG_LINK} courier_testutil GTest::gtest GTest::gmock GTest::gtest_main courier_flags)
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
