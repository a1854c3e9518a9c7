// COURIER_VECTOR_CLONES: compile a hot loop for AVX2 as well as the x86-64 baseline (SSE2),
// chosen once at load time by the CPU. The build contracts no multiply-add into FMA
// (-ffp-contract=off), so every clone computes the same bits: runs stay reproducible
// across machines and across the MPI ranks of one run.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(COURIER_NO_CLONES)
#define COURIER_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define COURIER_VECTOR_CLONES
#endif
