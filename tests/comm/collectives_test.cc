// Collectives on the in-process transport: every algorithm over world sizes 1, 2, 3, 4, 7, 8
// and element counts 0, 1, n-1, uneven and multi-segment, against closed-form results.
#include <atomic>
#include <cstring>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/collective_cases.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/core/half.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

const std::vector<int> kWorldSizes = {1, 2, 3, 4, 7, 8};

CollectiveOptions small_segments() {
  CollectiveOptions options;
  options.segment_bytes = 4096;
  options.timeout = std::chrono::seconds(30);
  return options;
}

struct WorldAndAlgorithm {
  int world_size;
  AllreduceAlgorithm algorithm;
};

class AllreduceSweep : public ::testing::TestWithParam<WorldAndAlgorithm> {};

TEST_P(AllreduceSweep, MatchesClosedForm) {
  spawn_communicators(GetParam().world_size, [&](Communicator& comm) { sweep_allreduce(comm, GetParam().algorithm); });
}

std::vector<WorldAndAlgorithm> all_cases() {
  std::vector<WorldAndAlgorithm> cases;
  for (int n : kWorldSizes) {
    for (AllreduceAlgorithm a : sweep_algorithms()) cases.push_back({n, a});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Inproc, AllreduceSweep, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<WorldAndAlgorithm>& param_info) {
                           std::string name(allreduce_algorithm_name(param_info.param.algorithm));
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name + "_" + std::to_string(param_info.param.world_size) + "_ranks";
                         });

class Collectives : public ::testing::TestWithParam<int> {};

TEST_P(Collectives, BroadcastFromEveryRoot) {
  const int n = GetParam();
  for (int root = 0; root < n; ++root) {
    for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{10000}}) {
      spawn_communicators(n, [&](Communicator& comm) {
        std::vector<std::uint8_t> data(bytes);
        for (std::size_t i = 0; i < bytes; ++i) {
          data[i] = static_cast<std::uint8_t>(comm.rank() == root ? (i * 7 + 3) % 251 : 0xEE);
        }
        ASSERT_TRUE(broadcast(comm, std::as_writable_bytes(std::span(data)), root, small_segments()).is_ok());
        for (std::size_t i = 0; i < bytes; ++i) {
          ASSERT_EQ(data[i], (i * 7 + 3) % 251) << "rank " << comm.rank() << " root " << root << " byte " << i;
        }
      });
    }
  }
}

TEST_P(Collectives, ReduceToEveryRoot) {
  const int n = GetParam();
  for (int root = 0; root < n; ++root) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kAverage}) {
      spawn_communicators(n, [&](Communicator& comm) {
        std::vector<double> data = make_input<double>(comm.rank(), 3001);
        ASSERT_TRUE(reduce(comm, std::as_writable_bytes(std::span(data)), DType::kF64, op, root, small_segments()).is_ok());
        if (comm.rank() != root) return;
        for (std::size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], expected_value(op, n, i)) << i;
      });
    }
  }
}

TEST_P(Collectives, AllgatherConcatenatesInRankOrder) {
  const int n = GetParam();
  for (std::size_t each : {std::size_t{0}, std::size_t{1}, std::size_t{5000}}) {
    spawn_communicators(n, [&](Communicator& comm) {
      std::vector<std::int32_t> mine(each);
      for (std::size_t i = 0; i < each; ++i) mine[i] = static_cast<std::int32_t>(comm.rank() * 100000 + i);
      std::vector<std::int32_t> all(each * static_cast<std::size_t>(n), -1);
      ASSERT_TRUE(allgather(comm, std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)),
                            small_segments()).is_ok());
      for (int r = 0; r < n; ++r) {
        for (std::size_t i = 0; i < each; ++i) {
          ASSERT_EQ(all[static_cast<std::size_t>(r) * each + i], r * 100000 + static_cast<std::int32_t>(i));
        }
      }
    });
  }
}

TEST_P(Collectives, ReduceScatterLeavesEachRankItsBlock) {
  const int n = GetParam();
  for (std::size_t count : sweep_counts(n)) {
    spawn_communicators(n, [&](Communicator& comm) {
      std::vector<float> data = make_input<float>(comm.rank(), count);
      ASSERT_TRUE(reduce_scatter(comm, std::as_writable_bytes(std::span(data)), DType::kF32, ReduceOp::kSum,
                                 small_segments()).is_ok());
      const ElementRange mine = block_range(count, n, comm.rank());
      for (std::size_t i = mine.begin; i < mine.begin + mine.count; ++i) {
        ASSERT_EQ(data[i], expected_value(ReduceOp::kSum, n, i)) << "count " << count << " element " << i;
      }
    });
  }
}

TEST_P(Collectives, BarrierLetsNoRankLeaveEarly) {
  const int n = GetParam();
  std::atomic<int> entered{0};
  std::atomic<int> left_early{0};
  spawn_communicators(n, [&](Communicator& comm) {
    for (int round = 1; round <= 5; ++round) {
      entered.fetch_add(1);
      ASSERT_TRUE(barrier(comm, small_segments()).is_ok());
      if (entered.load() < round * n) left_early.fetch_add(1);
      // A second barrier so no rank enters round + 1 before all have checked round.
      ASSERT_TRUE(barrier(comm, small_segments()).is_ok());
    }
  });
  EXPECT_EQ(left_early.load(), 0);
  EXPECT_EQ(entered.load(), 5 * n);
}

INSTANTIATE_TEST_SUITE_P(Inproc, Collectives, ::testing::ValuesIn(kWorldSizes),
                         [](const ::testing::TestParamInfo<int>& p) { return std::to_string(p.param) + "_ranks"; });

TEST(Allreduce, HalfPrecisionSumsThroughFloat) {
  spawn_communicators(4, [](Communicator& comm) {
    std::vector<std::uint16_t> halves(100), bf(100);
    for (std::size_t i = 0; i < 100; ++i) {
      halves[i] = float_to_fp16(static_cast<float>(input_value(comm.rank(), i)));
      bf[i] = float_to_bf16(static_cast<float>(input_value(comm.rank(), i)));
    }
    ASSERT_TRUE(allreduce(comm, std::as_writable_bytes(std::span(halves)), DType::kF16, ReduceOp::kSum).is_ok());
    ASSERT_TRUE(allreduce(comm, std::as_writable_bytes(std::span(bf)), DType::kBF16, ReduceOp::kSum).is_ok());
    for (std::size_t i = 0; i < 100; ++i) {
      EXPECT_EQ(fp16_to_float(halves[i]), expected_value(ReduceOp::kSum, 4, i));
      EXPECT_EQ(bf16_to_float(bf[i]), expected_value(ReduceOp::kSum, 4, i));
    }
  });
}

TEST(Allreduce, MismatchedSizesFailOnEveryRankNamingTheSizes) {
  std::atomic<int> failures{0};
  spawn_communicators(3, [&](Communicator& comm) {
    std::vector<float> data(comm.rank() == 1 ? 10 : 12, 1.0f);
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.timeout = std::chrono::seconds(10);
    Status status = allreduce(comm, std::span(data), ReduceOp::kSum, options);
    EXPECT_FALSE(status.is_ok());
    if (!status.is_ok()) failures.fetch_add(1);
    EXPECT_THAT(status.message(), ::testing::HasSubstr("bytes where"));
  });
  EXPECT_EQ(failures.load(), 3);
}

TEST(Allreduce, MpiNativeIsRefusedInProcess) {
  spawn_communicators(2, [](Communicator& comm) {
    std::vector<float> data(4, 1.0f);
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kMpiNative;
    Status status = allreduce(comm, std::span(data), ReduceOp::kSum, options);
    EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
    EXPECT_THAT(status.message(), ::testing::HasSubstr("--transport mpi"));
  });
}

TEST(Allreduce, WorksInsideGroups) {
  // Two groups of a 6-rank world, {0, 2, 4} and {5, 3, 1}, reduce independently and at once.
  spawn_communicators(6, [](Communicator& world) {
    const bool even = world.rank() % 2 == 0;
    Communicator group = even ? world.subgroup({0, 2, 4}, 1) : world.subgroup({5, 3, 1}, 2);
    EXPECT_EQ(group.world_size(), 3);
    for (AllreduceAlgorithm a : sweep_algorithms()) {
      CollectiveOptions options = small_segments();
      options.algorithm = a;
      EXPECT_TRUE(check_allreduce<float>(group, 2000, ReduceOp::kSum, options));
    }
    std::vector<std::int32_t> member(1, world.rank());
    ASSERT_TRUE(broadcast(group, std::as_writable_bytes(std::span(member)), 0).is_ok());
    EXPECT_EQ(member[0], even ? 0 : 5) << "group rank 0 is the first member listed";
  });
}

TEST(Selector, SmallMessagesUseFewRoundsLargeUseTheRing) {
  EXPECT_EQ(select_allreduce(1024, 8), AllreduceAlgorithm::kHalvingDoubling);
  EXPECT_EQ(select_allreduce(64 << 20, 8), AllreduceAlgorithm::kRing);
  EXPECT_EQ(select_allreduce(1024, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(parse_allreduce_algorithm("halving-doubling"), AllreduceAlgorithm::kHalvingDoubling);
  EXPECT_EQ(parse_allreduce_algorithm("mpi-native"), AllreduceAlgorithm::kMpiNative);
  EXPECT_FALSE(parse_allreduce_algorithm("rign").has_value());
}

TEST(BlockRange, TilesTheCountWithSizesDifferingByAtMostOne) {
  for (std::size_t count : {0, 1, 5, 7, 100, 1001}) {
    for (int n : {1, 2, 3, 7, 8}) {
      std::size_t next = 0, smallest = count, largest = 0;
      for (int b = 0; b < n; ++b) {
        ElementRange r = block_range(count, n, b);
        EXPECT_EQ(r.begin, next);
        next += r.count;
        smallest = std::min(smallest, r.count);
        largest = std::max(largest, r.count);
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - std::min(smallest, largest), 1u);
    }
  }
}

}  // namespace
}  // namespace courier::testing

namespace courier::testing {
namespace {

// Ranks in different collectives (or the same one at different call numbers) do not hang:
// after the timeout every rank's error names each rank's call.
TEST(Fingerprint, MismatchedCollectivesFailNamingBothCalls) {
  std::atomic<int> failures{0};
  spawn_communicators(2, [&](Communicator& comm) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.timeout = std::chrono::milliseconds(300);
    std::vector<float> data(1024, 1.0f);
    ASSERT_TRUE(allreduce(comm, std::span(data), ReduceOp::kSum, options).is_ok());  // call #0 on both
    Status status;
    if (comm.rank() == 0) {
      status = allreduce(comm, std::span(data), ReduceOp::kSum, options);
    } else {
      std::vector<std::byte> small(16);
      status = broadcast(comm, small, 0, options);
    }
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.to_string();
    EXPECT_THAT(status.message(), ::testing::HasSubstr("mismatched collectives"));
    EXPECT_THAT(status.message(), ::testing::HasSubstr("rank 0 in allreduce_ring #1 of 4096 bytes f32"));
    EXPECT_THAT(status.message(), ::testing::HasSubstr("rank 1 in broadcast_binomial #1 of 16 bytes"));
    if (!status.is_ok()) failures.fetch_add(1);
  });
  EXPECT_EQ(failures.load(), 2);
}

TEST(Fingerprint, ARankThatSkipsABarrierIsNamedWithItsCall) {
  spawn_communicators(2, [&](Communicator& comm) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.timeout = std::chrono::milliseconds(300);
    std::vector<float> data(8, 1.0f);
    Status status = comm.rank() == 0 ? barrier(comm, options) : allreduce(comm, std::span(data), ReduceOp::kSum, options);
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.to_string();
    EXPECT_THAT(status.message(), ::testing::HasSubstr("rank 0 in barrier #0 of 0 bytes"));
    EXPECT_THAT(status.message(), ::testing::HasSubstr("rank 1 in allreduce_ring #0 of 32 bytes f32"));
  });
}

}  // namespace
}  // namespace courier::testing
