# Precompiled headers. The standard library, fmt, spdlog and nlohmann::json are parsed by nearly
# every file and take longer than most files themselves; CI builds the tree twice (release and
# sanitizers), so they are parsed once per build instead. Tests add GoogleTest. Configure with
# -DCORRAL_PCH=OFF to check that every file includes what it uses.
option(CORRAL_PCH "Precompile the common heavy headers" ON)
set(corral_common_headers <algorithm> <array> <chrono> <cstdint> <functional> <map> <memory>
    <optional> <string> <string_view> <vector> <fmt/format.h> <spdlog/spdlog.h> <nlohmann/json.hpp>)

# corral_add_pch(NAME HEADERS ... DEPENDS ...): a target whose only job is to own a precompiled
# header that others reuse; DEPENDS gives it the same definitions (spdlog's, fmt's) as its users.
function(corral_add_pch name)
  cmake_parse_arguments(ARG "" "" "HEADERS;DEPENDS" ${ARGN})
  set(anchor ${CMAKE_BINARY_DIR}/${name}.cpp)
  if(NOT EXISTS ${anchor})
    file(WRITE ${anchor} "// Anchors the precompiled header ${name} (cmake/CorralTargets.cmake).\n")
  endif()
  add_library(${name} OBJECT ${anchor})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS})
  target_precompile_headers(${name} PRIVATE ${ARG_HEADERS})
endfunction()

function(corral_use_pch target pch)
  if(CORRAL_PCH AND TARGET ${pch})
    target_precompile_headers(${target} REUSE_FROM ${pch})
  endif()
endfunction()

# corral_add_library(NAME SOURCES ... DEPENDS ...): one static library per component.
function(corral_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(corral_${name} STATIC ${ARG_SOURCES})
  add_library(corral::${name} ALIAS corral_${name})
  target_include_directories(corral_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                            PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(corral_${name} PUBLIC ${ARG_DEPENDS})
  corral_use_pch(corral_${name} corral_pch)
endfunction()

# corral_add_test(NAME SOURCES ... DEPENDS ... [LABEL unit]): one gtest binary per component.
function(corral_add_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPENDS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS} GTest::gmock_main)
  corral_use_pch(${name} corral_test_pch)
  # GCC 12 false positive: config structs with std::string members built from designated
  # initializers in test bodies, once a unity build inlines across the test files.
  target_compile_options(${name} PRIVATE -Wno-maybe-uninitialized)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30
                       PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()
