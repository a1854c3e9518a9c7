// Reduction of byte buffers by dtype: what a collective does to two chunks it combines.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "courier/comm/bytes.h"
#include "courier/core/dtype.h"

namespace courier {

enum class ReduceOp : int {
  kSum = 0,
  kAverage = 1,  // a sum during the collective, divided by the world size at the end
  kMax = 2,
};

std::string_view reduce_op_name(ReduceOp op);
std::optional<ReduceOp> parse_reduce_op(std::string_view name);  // "sum", "avg"/"average", "max"

// accumulator[i] = accumulator[i] (op) input[i], elementwise in `dtype` (sum for kAverage).
// fp16/bf16 accumulate through float. REQUIRES: equal sizes, a multiple of the dtype size.
void reduce_into(MutableByteSpan accumulator, ByteSpan input, DType dtype, ReduceOp op);

// data[i] /= divisor, for kAverage's final step. Integers divide with truncation.
void divide_by(MutableByteSpan data, DType dtype, std::size_t divisor);

}  // namespace courier
