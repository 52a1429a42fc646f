# cx_add_module(NAME SOURCES ... DEPS ...): one static library per module folder, with
# the folder as its public include directory (where its one cx_*.h header lives).
function(cx_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${M_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${M_DEPS})
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:C>:${CX_WARN_FLAGS}>)
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
endfunction()
