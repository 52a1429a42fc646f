# blst (BLS12-381 in C + assembly) for the Seal module: the source inside npm's
# @chainsafe/blst@0.2.11, fetched into the build tree at configure time (never committed) and
# checked against the integrity the npm registry publishes for that version.
# Sets CLOAKX_HAVE_SEAL and, when ON, the target cx_dep_blst; CLOAKX_SEAL_SKIP_REASON says why not.
set(CLOAKX_SEAL AUTO CACHE STRING "Build the Seal module (needs npm for blst): AUTO, ON or OFF")
set_property(CACHE CLOAKX_SEAL PROPERTY STRINGS AUTO ON OFF)
# An already downloaded tarball (offline builds); it must still match the pinned integrity.
set(CLOAKX_BLST_TARBALL "" CACHE FILEPATH "Local copy of @chainsafe/blst-0.2.11.tgz")

set(CX_BLST_PACKAGE "@chainsafe/blst@0.2.11")
# dist.integrity of that version in the registry's metadata (`npm view @chainsafe/blst@0.2.11
# dist.integrity`: sha512-URyOLq5GtxBoxibOnd2pgLydCy0UZzbiIIBcsRAvGxAsRzjZL04TsQfwRkz5aphU3a1ebeRoMmI/HHyMCiFSQg==),
# as hex.
set(CX_BLST_SHA512
    511c8e2eae46b71068c626ce9ddda980bc9d0b2d146736e220805cb1102f1b102c4738d92f4e13b107f0464cf96a9854ddad5e6de46832623f1c7c8c0a215242)

set(CLOAKX_HAVE_SEAL OFF)
set(CLOAKX_SEAL_SKIP_REASON "")

function(cx_blst_fetch out_dir_var reason_var)
  set(${reason_var} "" PARENT_SCOPE)
  set(dir ${CMAKE_BINARY_DIR}/_deps/blst)
  set(src ${dir}/package/blst)
  if(EXISTS ${dir}/.verified AND EXISTS ${src}/src/server.c)
    set(${out_dir_var} ${src} PARENT_SCOPE)
    return()
  endif()
  file(REMOVE_RECURSE ${dir})
  file(MAKE_DIRECTORY ${dir})
  if(CLOAKX_BLST_TARBALL)
    set(tgz ${CLOAKX_BLST_TARBALL})
  else()
    find_program(CX_NPM npm)
    if(NOT CX_NPM)
      set(${reason_var} "npm is not installed (scripts/deps.sh test installs it)" PARENT_SCOPE)
      return()
    endif()
    execute_process(COMMAND ${CX_NPM} pack ${CX_BLST_PACKAGE} --pack-destination ${dir}
                            --loglevel=error --no-fund --no-audit
                    WORKING_DIRECTORY ${dir} TIMEOUT 180
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    set(tgz ${dir}/chainsafe-blst-0.2.11.tgz)
    if(NOT rc EQUAL 0 OR NOT EXISTS ${tgz})
      string(REGEX MATCH "(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH)[^\n]*"
             why "${err}")
      if(NOT why)
        string(REGEX MATCH "[^\n]+" why "${err}")
      endif()
      if(NOT why)
        set(why "exit status ${rc}")
      endif()
      set(${reason_var} "npm pack ${CX_BLST_PACKAGE} failed (${why})" PARENT_SCOPE)
      return()
    endif()
  endif()
  file(SHA512 ${tgz} got)
  if(NOT got STREQUAL CX_BLST_SHA512)
    message(FATAL_ERROR "${tgz}: SHA-512 ${got} is not the npm registry's integrity of "
                        "${CX_BLST_PACKAGE} (${CX_BLST_SHA512}); refusing to build it")
  endif()
  file(ARCHIVE_EXTRACT INPUT ${tgz} DESTINATION ${dir}
       PATTERNS package/blst/src package/blst/build/assembly.S package/blst/build/elf
                package/blst/bindings/blst.h package/blst/bindings/blst_aux.h
                package/blst/LICENSE)
  if(NOT EXISTS ${src}/src/server.c)
    set(${reason_var} "${tgz} holds no blst/src/server.c" PARENT_SCOPE)
    return()
  endif()
  file(WRITE ${dir}/.verified "${CX_BLST_SHA512}\n")
  set(${out_dir_var} ${src} PARENT_SCOPE)
endfunction()

if(CLOAKX_SEAL STREQUAL "OFF")
  set(CLOAKX_SEAL_SKIP_REASON "CLOAKX_SEAL=OFF")
elseif(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|aarch64|arm64)$")
  set(CLOAKX_SEAL_SKIP_REASON "blst's assembly is built here for x86_64 and aarch64 only")
else()
  cx_blst_fetch(CX_BLST_DIR why)
  if(why)
    set(CLOAKX_SEAL_SKIP_REASON "${why}")
  endif()
endif()

if(CLOAKX_SEAL_SKIP_REASON)
  if(CLOAKX_SEAL STREQUAL "ON")
    message(FATAL_ERROR "CLOAKX_SEAL=ON but blst is unavailable: ${CLOAKX_SEAL_SKIP_REASON}")
  endif()
  message(STATUS "CloakX: Seal module skipped: ${CLOAKX_SEAL_SKIP_REASON}")
else()
  enable_language(ASM)
  # server.c includes every other blst C file; assembly.S picks the ELF flavour for the target.
  # No __ADX__: the portable assembly runs on every x86-64, whichever machine built it.
  add_library(cx_dep_blst STATIC ${CX_BLST_DIR}/src/server.c ${CX_BLST_DIR}/build/assembly.S)
  target_include_directories(cx_dep_blst SYSTEM PUBLIC ${CX_BLST_DIR}/bindings)
  target_compile_options(cx_dep_blst PRIVATE -O2 -fno-builtin -w
                         $<$<STREQUAL:${CMAKE_SYSTEM_PROCESSOR},x86_64>:-mno-avx>)
  # blst uses GNU asm statements: gnu11, not the project's strict c11
  set_target_properties(cx_dep_blst PROPERTIES POSITION_INDEPENDENT_CODE ON C_EXTENSIONS ON)
  set(CLOAKX_HAVE_SEAL ON)
  message(STATUS "CloakX: Seal module ON (blst from ${CX_BLST_PACKAGE}, integrity checked)")
endif()
