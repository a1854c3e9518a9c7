// The collectives over the mpi transport, run by mpirun on 2, 3 and 4 ranks (CTest
// comm.mpi_collectives.np2/3/4): every algorithm, plus MPI's own allreduce (mpi-native), over
// element counts 0, 1, n-1, uneven and many segments, against closed-form results.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "comm/collective_cases.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/comm/transport/mpi/mpi_transport.h"

namespace courier::testing {
namespace {

Communicator* g_comm = nullptr;
Communicator& comm() { return *g_comm; }

CollectiveOptions small_segments() {
  CollectiveOptions options;
  options.segment_bytes = 4096;
  options.timeout = std::chrono::seconds(60);
  return options;
}

TEST(MpiCollectives, AllreduceRing) { sweep_allreduce(comm(), AllreduceAlgorithm::kRing); }
TEST(MpiCollectives, AllreduceHalvingDoubling) { sweep_allreduce(comm(), AllreduceAlgorithm::kHalvingDoubling); }
TEST(MpiCollectives, AllreduceTree) { sweep_allreduce(comm(), AllreduceAlgorithm::kTree); }
TEST(MpiCollectives, AllreduceAuto) { sweep_allreduce(comm(), AllreduceAlgorithm::kAuto); }

TEST(MpiCollectives, AllreduceMpiNative) {
  CollectiveOptions options = small_segments();
  options.algorithm = AllreduceAlgorithm::kMpiNative;
  for (std::size_t count : sweep_counts(comm().world_size())) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kAverage}) {
      EXPECT_TRUE(check_allreduce<float>(comm(), count, op, options));
      EXPECT_TRUE(check_allreduce<double>(comm(), count, op, options));
    }
    EXPECT_TRUE(check_allreduce<std::int32_t>(comm(), count, ReduceOp::kSum, options));
  }
}

TEST(MpiCollectives, BroadcastFromEveryRoot) {
  for (int root = 0; root < comm().world_size(); ++root) {
    std::vector<std::uint8_t> data(10000);
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<std::uint8_t>(comm().rank() == root ? (i * 7 + root) % 251 : 0xEE);
    }
    ASSERT_TRUE(broadcast(comm(), std::as_writable_bytes(std::span(data)), root, small_segments()).is_ok());
    for (std::size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], (i * 7 + root) % 251) << "root " << root;
  }
}

TEST(MpiCollectives, ReduceToEveryRoot) {
  for (int root = 0; root < comm().world_size(); ++root) {
    std::vector<double> data = make_input<double>(comm().rank(), 3001);
    ASSERT_TRUE(
        reduce(comm(), std::as_writable_bytes(std::span(data)), DType::kF64, ReduceOp::kSum, root, small_segments())
            .is_ok());
    if (comm().rank() != root) continue;
    for (std::size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], expected_value(ReduceOp::kSum, comm().world_size(), i));
  }
}

TEST(MpiCollectives, AllgatherAndReduceScatter) {
  const int n = comm().world_size();
  std::vector<std::int32_t> mine(777);
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = comm().rank() * 100000 + static_cast<std::int32_t>(i);
  std::vector<std::int32_t> all(mine.size() * static_cast<std::size_t>(n));
  ASSERT_TRUE(allgather(comm(), std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)), small_segments()).is_ok());
  for (int r = 0; r < n; ++r) {
    for (std::size_t i = 0; i < mine.size(); ++i) ASSERT_EQ(all[static_cast<std::size_t>(r) * mine.size() + i], r * 100000 + static_cast<int>(i));
  }
  for (std::size_t count : sweep_counts(n)) {
    std::vector<float> data = make_input<float>(comm().rank(), count);
    ASSERT_TRUE(reduce_scatter(comm(), std::as_writable_bytes(std::span(data)), DType::kF32, ReduceOp::kSum,
                               small_segments()).is_ok());
    const ElementRange block = block_range(count, n, comm().rank());
    for (std::size_t i = block.begin; i < block.begin + block.count; ++i) {
      ASSERT_EQ(data[i], expected_value(ReduceOp::kSum, n, i));
    }
  }
}

TEST(MpiCollectives, GroupOfEvenRanks) {
  std::vector<int> evens;
  for (int r = 0; r < comm().world_size(); r += 2) evens.push_back(r);
  ASSERT_TRUE(barrier(comm()).is_ok());
  if (comm().rank() % 2 != 0) return;
  Communicator group = comm().subgroup(evens, 7);
  for (AllreduceAlgorithm a : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHalvingDoubling, AllreduceAlgorithm::kTree}) {
    CollectiveOptions options = small_segments();
    options.algorithm = a;
    EXPECT_TRUE(check_allreduce<float>(group, 5000, ReduceOp::kSum, options));
  }
}

TEST(MpiCollectives, BarrierThenDone) { ASSERT_TRUE(barrier(comm(), small_segments()).is_ok()); }

}  // namespace
}  // namespace courier::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  courier::Result<std::unique_ptr<courier::MpiTransport>> transport = courier::MpiTransport::create();
  if (!transport.is_ok()) {
    std::fprintf(stderr, "cannot start MPI: %s\n", transport.status().to_string().c_str());
    return 1;
  }
  int result = 0;
  {
    courier::Communicator comm(**transport, courier::CommunicatorOptions{.payload_checksums = true});
    courier::testing::g_comm = &comm;
    result = RUN_ALL_TESTS();
    courier::testing::g_comm = nullptr;
  }
  transport->reset();
  return result;
}
