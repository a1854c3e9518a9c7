// Closed-form collective cases shared by the in-process and MPI collective tests: every
// rank's input is a formula of (rank, index), so the expected result is a formula too and
// no rank needs anyone else's data to check its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/comm/collectives/collectives.h"

namespace courier::testing {

// Small integers, exactly representable in every dtype tested, so sums are exact.
inline double input_value(int rank, std::size_t index) {
  return static_cast<double>((rank + 1) * static_cast<int>(index % 13 + 1));
}

inline double expected_value(ReduceOp op, int world_size, std::size_t index) {
  const double k = static_cast<double>(index % 13 + 1);
  const double n = world_size;
  switch (op) {
    case ReduceOp::kSum: return k * n * (n + 1) / 2;
    case ReduceOp::kAverage: return k * (n + 1) / 2;
    case ReduceOp::kMax: return k * n;
  }
  return 0;
}

// Element counts the sweep uses for a world of n: 0, 1, n-1, an uneven count, and one that
// spans many segments of `segment_bytes`.
inline std::vector<std::size_t> sweep_counts(int world_size) {
  const auto n = static_cast<std::size_t>(world_size);
  return {0, 1, n > 1 ? n - 1 : 2, 1000 + 3 * n + 1, 12345};
}

inline std::vector<AllreduceAlgorithm> sweep_algorithms() {
  return {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHalvingDoubling, AllreduceAlgorithm::kTree,
          AllreduceAlgorithm::kAuto};
}

template <typename T>
std::vector<T> make_input(int rank, std::size_t count) {
  std::vector<T> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<T>(input_value(rank, i));
  return values;
}

// Runs one allreduce on this rank and checks its result against the closed form.
template <typename T>
::testing::AssertionResult check_allreduce(Communicator& comm, std::size_t count, ReduceOp op,
                                           const CollectiveOptions& options) {
  std::vector<T> data = make_input<T>(comm.rank(), count);
  Status status = allreduce(comm, std::span<T>(data), op, options);
  const std::string what = "allreduce " + std::string(allreduce_algorithm_name(options.algorithm)) + " " +
                           std::string(reduce_op_name(op)) + " of " + std::to_string(count) + " on rank " +
                           std::to_string(comm.rank()) + " of " + std::to_string(comm.world_size());
  if (!status.is_ok()) return ::testing::AssertionFailure() << what << ": " << status.to_string();
  for (std::size_t i = 0; i < count; ++i) {
    T expected = static_cast<T>(expected_value(op, comm.world_size(), i));
    if (data[i] != expected) {
      return ::testing::AssertionFailure() << what << ": element " << i << " is " << +data[i] << ", expected "
                                           << +expected;
    }
  }
  return ::testing::AssertionSuccess();
}

// The whole allreduce sweep for one communicator: counts x ops x dtypes for `algorithm`.
inline void sweep_allreduce(Communicator& comm, AllreduceAlgorithm algorithm) {
  CollectiveOptions options;
  options.algorithm = algorithm;
  options.segment_bytes = 4096;  // so the largest count spans many segments
  options.timeout = std::chrono::seconds(30);
  for (std::size_t count : sweep_counts(comm.world_size())) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage, ReduceOp::kMax}) {
      EXPECT_TRUE(check_allreduce<float>(comm, count, op, options));
      EXPECT_TRUE(check_allreduce<double>(comm, count, op, options));
      if (op != ReduceOp::kAverage || (comm.world_size() % 2 == 1)) {
        // Integer averages are exact only when (n + 1) / 2 is whole.
        EXPECT_TRUE(check_allreduce<std::int32_t>(comm, count, op, options));
      }
    }
  }
}

}  // namespace courier::testing
