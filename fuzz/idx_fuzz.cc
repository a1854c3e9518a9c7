// libFuzzer target: the IDX reader (Fashion-MNIST's format, raw or gzipped). Whatever the
// bytes, read_idx returns a Status or an array whose values fill its dimensions, allocating no
// more than the input holds (ASan and libFuzzer's -rss_limit_mb check that).
//   cmake --preset fuzz && cmake --build --preset fuzz && build/fuzz/fuzz/idx_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>

#include "courier/train/data/idx.h"
#include "file_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = courier::fuzz::write_input(data, size, ".idx");
  courier::Result<courier::IdxArray> array = courier::read_idx(path);
  if (!array.is_ok()) return 0;
  // A zero dimension makes the array empty whatever the others declare (up to 2^32 - 1 each).
  std::int64_t count = 1;
  for (std::int64_t d : array->dims) {
    if (d < 0) __builtin_trap();
    if (d == 0) count = 0;
  }
  for (std::int64_t d : array->dims) {
    if (count != 0 && __builtin_mul_overflow(count, d, &count)) __builtin_trap();
  }
  if (count != static_cast<std::int64_t>(array->values.size())) __builtin_trap();
  return 0;
}
