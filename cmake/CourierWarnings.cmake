# Compiler flags shared by every courier target.
add_library(courier_flags INTERFACE)
target_compile_options(courier_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  # Messages and logs name files relative to the repository, never this machine's paths.
  -ffile-prefix-map=${CMAKE_SOURCE_DIR}/=
  # No code reads errno after a math call; without it sqrt blocks vectorisation. omp simd
  # pragmas hold in every module, with or without the OpenMP runtime. No FMA contraction:
  # the same bits on every CPU and in every clone (core/simd.h). No code reads the FP exception
  # flags either; without -fno-trapping-math a float compare-and-select (a clamp) blocks
  # vectorisation. Neither flag changes a computed value.
  -fno-math-errno -fno-trapping-math -fopenmp-simd -ffp-contract=off)

if(COURIER_SANITIZE)
  target_compile_options(courier_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(courier_flags INTERFACE -fsanitize=address,undefined)
endif()

if(COURIER_TSAN)
  if(COURIER_SANITIZE)
    message(FATAL_ERROR "COURIER_TSAN and COURIER_SANITIZE exclude each other: ThreadSanitizer cannot share a process with AddressSanitizer")
  endif()
  # GCC's libgomp is not instrumented, so TSan cannot see its barriers and reports every
  # OpenMP loop as a race. LLVM's libomp with its Archer tool tells TSan about them.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "COURIER_TSAN needs clang (the tsan preset): GCC's OpenMP runtime is invisible to ThreadSanitizer")
  endif()
  # -O1: TSan slows code 5-15x, and -O0 doubles that again; frame pointers for its stacks.
  target_compile_options(courier_flags INTERFACE -fsanitize=thread -O1 -fno-omit-frame-pointer)
  # No target_clones (core/simd.h): clang 14 instruments the ifunc resolver they emit, which the
  # loader runs before TSan's runtime exists, and every binary crashes at load.
  target_compile_definitions(courier_flags INTERFACE COURIER_NO_CLONES)
  target_link_options(courier_flags INTERFACE -fsanitize=thread)
endif()

if(COURIER_BUILD_FUZZ)
  # Coverage instrumentation for libFuzzer in every courier library, so the fuzzers see inside them.
  # Clang 14 cannot emit UBSan's -fsanitize=function check for coroutines (src/courier/sim) with
  # coverage on ("Cannot represent a difference across sections"); the other checks stay.
  target_compile_options(courier_flags INTERFACE -fsanitize=fuzzer-no-link -fno-sanitize=function)
endif()
