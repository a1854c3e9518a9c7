// When an elementwise loop is worth an OpenMP team. Below this many elements the fork/join
// costs more than the loop; above it loops use `#pragma omp parallel for ... if(...)`.
#pragma once

#include <cstdint>

namespace courier {

inline constexpr std::int64_t kParallelMinElements = std::int64_t{1} << 15;

}  // namespace courier
