# shovel_write_target_graph(FILE): writes the project's CMake target graph,
# as the build sees it, for scripts/check_layers.py (ctest style.layering),
# which fails when the include rules and this graph disagree. One record a
# line, fields separated by a tab; list values are ;-separated:
#   target  NAME  TYPE
#   sources NAME  files compiled, relative to the project's root
#   links   NAME  direct LINK_LIBRARIES (evaluated)
#   include NAME  include folders the compiler gets (evaluated, with what
#                 linked targets pass on)
# Call it at the end of the top-level CMakeLists.txt, once every target exists.

function(_shovel_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _shovel_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(shovel_write_target_graph file)
  _shovel_collect_targets(${PROJECT_SOURCE_DIR} targets)
  set(content "")
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      continue()  # custom targets (the fuzzers' clang++ builds) compile nothing here
    endif()
    get_target_property(dir ${t} SOURCE_DIR)
    get_target_property(srcs ${t} SOURCES)
    set(files "")
    foreach(s IN LISTS srcs)
      cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${dir} NORMALIZE OUTPUT_VARIABLE abs)
      cmake_path(IS_PREFIX PROJECT_SOURCE_DIR ${abs} NORMALIZE inside)
      if(inside)
        cmake_path(RELATIVE_PATH abs BASE_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE rel)
        list(APPEND files ${rel})
      endif()
    endforeach()
    string(APPEND content "target\t${t}\t${type}\n")
    string(APPEND content "sources\t${t}\t${files}\n")
    string(APPEND content "links\t${t}\t$<TARGET_PROPERTY:${t},LINK_LIBRARIES>\n")
    string(APPEND content "include\t${t}\t$<TARGET_PROPERTY:${t},INCLUDE_DIRECTORIES>\n")
  endforeach()
  file(GENERATE OUTPUT ${file} CONTENT "${content}")
endfunction()
