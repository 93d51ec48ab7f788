# Included by deploy/Dockerfile's build stage (CMAKE_PROJECT_INCLUDE): compiles each component as
# one unity source, which takes the image build from about 10 to about 3 CPU-minutes. Sources whose
# file-local helpers clash with a neighbour's in one translation unit are compiled on their own.
# When a new clash breaks the unity build, the Dockerfile falls back to a normal build.
set(CMAKE_UNITY_BUILD ON)

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL corral_unity_build_exceptions)
function(corral_unity_build_exceptions)
  set(clashing
      src/cluster/process_supervisor.cpp   # errorText(), also in child_process.cpp
      src/proxy/worker.cpp                 # toTimeval(), also in session_internal.h
      src/control/control_cluster.cpp)     # kDrainPoll, also in control_plane.cpp
  foreach(file IN LISTS clashing)
    get_filename_component(dir ${CMAKE_SOURCE_DIR}/${file} DIRECTORY)
    if(EXISTS ${CMAKE_SOURCE_DIR}/${file})
      set_source_files_properties(${CMAKE_SOURCE_DIR}/${file} DIRECTORY ${dir}
                                  PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
endfunction()
