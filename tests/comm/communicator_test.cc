// The Communicator over faulty transports: lost, damaged, duplicated and reordered messages
// are detected and named; a killed rank makes every survivor's collective fail within its
// timeout, naming the missing rank, and nothing hangs.
#include <atomic>
#include <chrono>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/collective_cases.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/comm/transport/faulty/faulty_transport.h"
#include "courier/comm/transport/inproc/inproc_transport.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const OpContext kTest{"test", 7};

std::vector<std::byte> number(int value) {
  std::vector<std::byte> bytes(sizeof(int));
  std::memcpy(bytes.data(), &value, sizeof(int));
  return bytes;
}

int number_of(const Message& m) {
  int value = 0;
  std::memcpy(&value, m.payload().data(), sizeof(int));
  return value;
}

// Rank 0 sends the numbers 0..count-1 on tag 5 with step 7; rank 1 runs `check`.
void stream(int count, FaultPlan sender_plan, const std::function<void(Communicator&)>& check,
            CommunicatorOptions options = {}) {
  auto world = wrap_faulty(make_inproc_world(2), [&](int rank) { return rank == 0 ? sender_plan : FaultPlan{}; });
  options.stall_grace = 50ms;
  spawn_ranks(world, [&](Transport& transport) {
    Communicator comm(transport, options);
    if (comm.rank() == 0) {
      for (int i = 0; i < count; ++i) comm.send(1, 5, number(i), SendInfo{.dtype = DType::kI32, .step = 7});
    } else {
      check(comm);
    }
  });
}

Deadline in(std::chrono::milliseconds ms) { return Deadline::after(real_clock(), ms); }

TEST(Communicator, DeliversInOrderWithoutFaults) {
  stream(50, {}, [](Communicator& comm) {
    for (int i = 0; i < 50; ++i) {
      Result<Message> m = comm.receive(0, 5, in(5000ms), kTest);
      ASSERT_TRUE(m.is_ok()) << m.status().to_string();
      EXPECT_EQ(number_of(*m), i);
      EXPECT_EQ(m->header().step, 7u);
      EXPECT_EQ(m->header().dtype, DType::kI32);
    }
    EXPECT_EQ(comm.stats().messages_received, 50u);
  });
}

TEST(Communicator, LostMessageIsDataLossNamingRankPeerTagAndStep) {
  FaultPlan plan;
  plan.targeted = {{Fault::kDrop, 1}};
  stream(3, plan, [](Communicator& comm) {
    ASSERT_TRUE(comm.receive(0, 5, in(5000ms), kTest).is_ok());
    Result<Message> gap = comm.receive(0, 5, in(5000ms), kTest);
    ASSERT_FALSE(gap.is_ok());
    EXPECT_EQ(gap.status().code(), StatusCode::kDataLoss);
    const std::string text = gap.status().message();
    EXPECT_THAT(text, HasSubstr("rank 1"));
    EXPECT_THAT(text, HasSubstr("from rank 0"));
    EXPECT_THAT(text, HasSubstr("tag 0x5"));
    EXPECT_THAT(text, HasSubstr("step 7"));
    EXPECT_THAT(text, HasSubstr("expected seq 1, got seq 2"));
  });
}

TEST(Communicator, LostLastMessageTimesOutNamingTheSilentPeer) {
  FaultPlan plan;
  plan.targeted = {{Fault::kDrop, 0}};
  stream(1, plan, [](Communicator& comm) {
    const auto started = std::chrono::steady_clock::now();
    Result<Message> m = comm.receive(0, 5, in(200ms), kTest);
    ASSERT_FALSE(m.is_ok());
    EXPECT_EQ(m.status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_THAT(m.status().message(), HasSubstr("rank 0 is missing or stalled"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  });
}

TEST(Communicator, CorruptPayloadIsCaughtByTheChecksum) {
  FaultPlan plan;
  plan.targeted = {{Fault::kCorrupt, 0}};
  stream(
      1, plan,
      [](Communicator& comm) {
        Result<Message> m = comm.receive(0, 5, in(5000ms), kTest);
        ASSERT_FALSE(m.is_ok());
        EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
        EXPECT_THAT(m.status().message(), HasSubstr("checksum mismatch"));
        EXPECT_THAT(m.status().message(), HasSubstr("rank 1: test step 7: from rank 0, tag 0x5"));
      },
      CommunicatorOptions{.payload_checksums = true});
}

TEST(Communicator, DamagedHeaderIsCaughtEvenWithoutPayloadChecksums) {
  FaultPlan plan;
  plan.targeted = {{Fault::kCorrupt, 0}};
  auto world = wrap_faulty(make_inproc_world(2), [&](int rank) { return rank == 0 ? plan : FaultPlan{}; });
  spawn_ranks(world, [&](Transport& transport) {
    Communicator comm(transport);
    if (comm.rank() == 0) {
      comm.send(1, 5, std::vector<std::byte>{});  // empty payload: the fault damages the header
    } else {
      Result<Message> m = comm.receive(0, 5, in(5000ms), kTest);
      ASSERT_FALSE(m.is_ok());
      EXPECT_THAT(m.status().message(), HasSubstr("header damaged"));
    }
  });
}

TEST(Communicator, DuplicateIsDroppedAndCounted) {
  FaultPlan plan;
  plan.targeted = {{Fault::kDuplicate, 1}};
  stream(3, plan, [](Communicator& comm) {
    for (int i = 0; i < 3; ++i) {
      Result<Message> m = comm.receive(0, 5, in(5000ms), kTest);
      ASSERT_TRUE(m.is_ok()) << m.status().to_string();
      EXPECT_EQ(number_of(*m), i);
    }
    EXPECT_EQ(comm.stats().duplicates_dropped, 1u);
  });
}

TEST(Communicator, ReorderedMessageIsReportedNotSilentlyAccepted) {
  FaultPlan plan;
  plan.targeted = {{Fault::kReorder, 0}};
  stream(2, plan, [](Communicator& comm) {
    Result<Message> m = comm.receive(0, 5, in(5000ms), kTest);
    ASSERT_FALSE(m.is_ok());
    EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
    EXPECT_THAT(m.status().message(), HasSubstr("expected seq 0, got seq 1"));
  });
}

TEST(Communicator, DelaysAloneKeepEveryMessage) {
  FaultPlan plan;
  plan.delay_rate = 1.0;
  plan.max_delay = 2ms;
  auto world = wrap_faulty(make_inproc_world(2), [&](int) { return plan; });
  spawn_ranks(world, [&](Transport& transport) {
    Communicator comm(transport);
    const int peer = 1 - comm.rank();
    for (int i = 0; i < 20; ++i) {  // ping-pong: one message in flight, so delays cannot reorder
      if ((i % 2) == comm.rank()) {
        comm.send(peer, 5, number(i));
      } else {
        Result<Message> m = comm.receive(peer, 5, in(5000ms), kTest);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
        EXPECT_EQ(number_of(*m), i);
      }
    }
  });
}

// Rank 2 of 4 dies at its first send; every survivor's ring allreduce must fail within the
// timeout (plus the stall grace), each naming rank 2.
void killed_rank_case(bool silently) {
  constexpr int kDead = 2;
  const auto timeout = silently ? 500ms : 20s;
  auto world = wrap_faulty(make_inproc_world(4), [&](int rank) {
    FaultPlan plan;
    if (rank == kDead) {
      plan.kill_after_sends = 0;
      plan.kill_silently = silently;
    }
    return plan;
  });
  std::atomic<int> named{0};
  const auto started = std::chrono::steady_clock::now();
  spawn_ranks(world, [&](Transport& transport) {
    Communicator comm(transport, CommunicatorOptions{.stall_grace = 200ms});
    std::vector<float> data(10000, 1.0f);
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.timeout = timeout;
    options.step = 3;
    Status status = allreduce(comm, std::span(data), ReduceOp::kSum, options);
    if (comm.rank() == kDead) return;
    ASSERT_FALSE(status.is_ok()) << "rank " << comm.rank();
    EXPECT_THAT(status.message(), HasSubstr("rank 2")) << "rank " << comm.rank() << ": " << status.message();
    if (status.message().find(silently ? "rank 2 is missing" : "rank 2 is gone") != std::string::npos) named++;
  });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(named.load(), 3) << "every survivor names the dead rank";
  EXPECT_LT(elapsed, timeout + 2s) << "nobody waited much past the timeout";
}

TEST(Communicator, KilledRankFailsEverySurvivorAtOnce) { killed_rank_case(false); }

TEST(Communicator, SilentlyKilledRankIsNamedByEverySurvivorAfterTheTimeout) { killed_rank_case(true); }

// A survivable wait (an elastic parameter server's) gets a gone peer and a passed deadline as
// its own results: the communicator does not fail, no member hears of it, and the members
// still talk to each other afterwards.
TEST(Communicator, SurvivableWaitOutlivesAGonePeerAndATimeout) {
  const OpContext survivable{.op = "test", .step = 7, .survivable = true};
  spawn_communicators(3, [&](Communicator& comm) {
    if (comm.rank() == 2) {
      comm.transport().close();
      return;
    }
    const int peer = 1 - comm.rank();
    if (comm.rank() == 0) {
      Result<Message> gone = comm.receive(2, 5, in(5000ms), survivable);
      EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable) << gone.status().to_string();
      EXPECT_THAT(gone.status().message(), HasSubstr("rank 2"));
      Result<Message> late = comm.receive(peer, 6, in(30ms), survivable);
      EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded) << late.status().to_string();
      EXPECT_FALSE(comm.failure().has_value());
      comm.send(peer, 5, number(41));
    }
    Result<Message> m = comm.receive(peer, 5, in(5000ms), kTest);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    if (comm.rank() == 1) comm.send(peer, 5, number(number_of(*m) + 1));
    if (comm.rank() == 0) {
      EXPECT_EQ(number_of(*m), 42);
    }
    EXPECT_FALSE(comm.failure().has_value());
  });
}

// Random faults at modest rates over many collectives: every rank returns (no hang), and a
// collective that succeeds has the right answer.
TEST(Communicator, RandomFaultsNeverHangOrCorruptResults) {
  int failures = 0, successes = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    auto world = wrap_faulty(make_inproc_world(3), [&](int) {
      FaultPlan plan;
      plan.seed = seed;
      plan.drop_rate = 0.01;
      plan.duplicate_rate = 0.02;
      plan.corrupt_rate = 0.01;
      plan.delay_rate = 0.02;
      plan.max_delay = 1ms;
      return plan;
    });
    std::atomic<int> ok{0}, bad{0};
    spawn_ranks(world, [&](Transport& transport) {
      Communicator comm(transport, CommunicatorOptions{.payload_checksums = true, .stall_grace = 50ms});
      CollectiveOptions options;
      options.timeout = 300ms;
      options.segment_bytes = 1024;
      for (int i = 0; i < 5; ++i) {
        ::testing::AssertionResult r = check_allreduce<float>(comm, 3000, ReduceOp::kSum, options);
        if (!r) {
          EXPECT_THAT(r.message(), ::testing::Not(HasSubstr("element"))) << "a wrong result was accepted";
          bad++;
          return;
        }
        ok++;
      }
    });
    failures += bad.load();
    successes += ok.load();
  }
  EXPECT_GT(failures, 0) << "the fault rates should break some collectives";
  EXPECT_GT(successes, 0);
}

}  // namespace
}  // namespace courier::testing
