# corral_add_library(NAME SOURCES ... DEPENDS ...): one static library per component.
function(corral_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(corral_${name} STATIC ${ARG_SOURCES})
  add_library(corral::${name} ALIAS corral_${name})
  target_include_directories(corral_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                            PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(corral_${name} PUBLIC ${ARG_DEPENDS})
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
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30
                       PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()
