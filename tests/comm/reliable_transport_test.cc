// Reliable delivery over the faulty transport: thousands of messages through drops, damage,
// duplicates, delays and reorders (acknowledgements faulted too) arrive once, intact and in
// order, and the counters account for every fault injected; a dead peer is a bounded error;
// closing leaves no thread behind.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/collectives/collectives.h"
#include "courier/comm/launch.h"
#include "courier/comm/transport/faulty/faulty_transport.h"
#include "courier/comm/transport/inproc/inproc_transport.h"
#include "courier/comm/transport/reliable/reliable_transport.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

Deadline in(std::chrono::milliseconds ms) { return Deadline::after(real_clock(), ms); }

const ReliableOptions kQuick{.resend_after = 5ms, .max_backoff = 100ms, .give_up_after = 20'000ms};

// inproc -> faulty -> reliable, keeping a view of each layer for its counters.
struct World {
  std::vector<FaultyTransport*> faulty;
  std::vector<ReliableTransport*> reliable;
  std::vector<std::unique_ptr<Transport>> endpoints;

  World(int world_size, const FaultPlan& plan, const ReliableOptions& options) {
    endpoints = wrap_faulty(make_inproc_world(world_size), [&](int rank) {
      FaultPlan mine = plan;
      mine.seed = plan.seed * 100 + static_cast<std::uint64_t>(rank);
      return mine;
    });
    for (auto& e : endpoints) faulty.push_back(static_cast<FaultyTransport*>(e.get()));
    endpoints = wrap_reliable(std::move(endpoints), options);
    for (auto& e : endpoints) reliable.push_back(static_cast<ReliableTransport*>(e.get()));
  }

  FaultyTransport::Counts injected() const { return report().injected; }
  ReliableTransport::Counts detected() const { return report().reliable; }
  NetworkReport report() const {
    NetworkReport report;
    for (const FaultyTransport* f : faulty) report.injected += f->counts();
    for (const ReliableTransport* r : reliable) report.reliable += r->counts();
    return report;
  }
};

std::vector<std::byte> message_bytes(int from, int to, int index) {
  std::vector<std::byte> bytes(static_cast<std::size_t>(index % 97));  // 0 to 96 bytes, empty ones too
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(from * 31 + to * 17 + index * 7 + static_cast<int>(i));
  }
  return bytes;
}

MessageHeader header_for(int index, std::uint64_t tag, std::size_t payload_bytes) {
  MessageHeader h;
  h.tag = tag;
  h.step = static_cast<std::uint64_t>(index);
  h.element_count = payload_bytes;  // of u8
  h.payload_bytes = payload_bytes;
  return h;
}

// Every rank sends `count` messages to every other rank, alternating tags 5 and 6, and receives
// theirs, checking each one's bytes and order per (source, tag).
void exchange(World& world, int count) {
  const int n = static_cast<int>(world.endpoints.size());
  spawn_ranks(world.endpoints, [&](Transport& transport) {
    const int me = transport.rank();
    std::vector<SendHandle> sends;
    for (int i = 0; i < count; ++i) {
      for (int peer = 0; peer < n; ++peer) {
        if (peer == me) continue;
        std::vector<std::byte> bytes = message_bytes(me, peer, i);
        const MessageHeader h = header_for(i, 5 + static_cast<std::uint64_t>(i % 2), bytes.size());
        sends.push_back(transport.send(peer, h, Payload::owned(std::move(bytes))));
      }
    }
    for (int peer = 0; peer < n; ++peer) {
      if (peer == me) continue;
      for (int i = 0; i < count; ++i) {
        Result<Message> m = transport.recv(peer, 5 + static_cast<std::uint64_t>(i % 2)).wait(in(30'000ms));
        ASSERT_TRUE(m.is_ok()) << "rank " << me << " from " << peer << " #" << i << ": " << m.status().to_string();
        const std::vector<std::byte> expected = message_bytes(peer, me, i);
        ASSERT_EQ(m->header().step, static_cast<std::uint64_t>(i)) << "out of order from rank " << peer;
        ASSERT_EQ(m->header().source, static_cast<std::uint32_t>(peer));
        ASSERT_TRUE(std::equal(expected.begin(), expected.end(), m->payload().begin(), m->payload().end()))
            << "damaged: rank " << peer << " -> " << me << " #" << i;
      }
    }
    for (SendHandle& s : sends) ASSERT_TRUE(s.wait(in(30'000ms)).is_ok());
  });
}

// Waits (bounded) until frames still in flight (spurious re-sends, held copies) have landed.
::testing::AssertionResult settles(const World& world) {
  const Deadline deadline = in(10'000ms);
  while (!world.report().settled()) {
    if (deadline.expired(real_clock())) return ::testing::AssertionFailure() << "frames unaccounted for after 10 s";
    std::this_thread::sleep_for(1ms);
  }
  return ::testing::AssertionSuccess();
}

void print_counts(const World& world) {
  const FaultyTransport::Counts i = world.injected();
  const ReliableTransport::Counts d = world.detected();
  std::printf("injected: %llu frames, %llu dropped, %llu corrupted, %llu duplicated, %llu delayed, %llu reordered\n",
              static_cast<unsigned long long>(i.sends), static_cast<unsigned long long>(i.drops),
              static_cast<unsigned long long>(i.corruptions), static_cast<unsigned long long>(i.duplicates),
              static_cast<unsigned long long>(i.delays), static_cast<unsigned long long>(i.reorders));
  std::printf("detected: %llu sent, %llu re-sent, %llu rejected, %llu duplicates dropped, %llu held out of order, "
              "%llu delivered, %llu acks sent, %llu acks received\n",
              static_cast<unsigned long long>(d.sent), static_cast<unsigned long long>(d.resent),
              static_cast<unsigned long long>(d.rejected), static_cast<unsigned long long>(d.duplicates_dropped),
              static_cast<unsigned long long>(d.out_of_order_held), static_cast<unsigned long long>(d.delivered),
              static_cast<unsigned long long>(d.acks_sent), static_cast<unsigned long long>(d.acks_received));
}

FaultPlan lossy_plan(bool include_control) {
  FaultPlan plan;
  plan.seed = 7;
  plan.drop_rate = 0.01;
  plan.corrupt_rate = 0.002;
  plan.duplicate_rate = 0.01;
  plan.delay_rate = 0.01;
  plan.reorder_rate = 0.01;
  plan.max_delay = 3ms;
  plan.include_control = include_control;
  return plan;
}

// 3 ranks, 2,000 messages each way between every pair: 12,000 messages.
void check_every_fault_accounted_for(bool include_control) {
  constexpr int kRanks = 3, kCount = 2000;
  World world(kRanks, lossy_plan(include_control), kQuick);
  exchange(world, kCount);
  ASSERT_TRUE(settles(world));
  print_counts(world);
  const FaultyTransport::Counts i = world.injected();
  const ReliableTransport::Counts d = world.detected();
  const std::uint64_t messages = kRanks * (kRanks - 1) * kCount;
  EXPECT_EQ(d.sent, messages);
  EXPECT_EQ(d.delivered, messages) << "every message handed up exactly once";
  EXPECT_EQ(i.sends, d.sent + d.resent + d.acks_sent) << "every frame went through the faulty layer";
  EXPECT_EQ(d.acks_sent, d.delivered + d.duplicates_dropped) << "every intact data frame acknowledged";
  EXPECT_GT(i.corruptions, 0u);
  EXPECT_EQ(d.rejected, i.corruptions) << "every damaged frame rejected";
  EXPECT_GT(i.drops, 0u);
  // Of each message's copies, one at least was not dropped: the one delivered.
  if (!include_control) {
    EXPECT_GE(d.resent, i.drops) << "every dropped message re-sent";
  }
  EXPECT_GE(d.duplicates_dropped, i.duplicates);
  EXPECT_GT(d.out_of_order_held, 0u);
  EXPECT_EQ(d.gave_up, 0u);
}

TEST(ReliableTransport, EveryMessageArrivesOnceIntactInOrderAndEveryFaultIsCounted) {
  check_every_fault_accounted_for(false);
}

// The case that matters: acknowledgements lost and damaged too.
TEST(ReliableTransport, LostAndDamagedAcknowledgementsAreRepairedByReSends) {
  check_every_fault_accounted_for(true);
}

// The Communicator above sees an intact stream: a ring allreduce through faults is exact.
TEST(ReliableTransport, AllreduceThroughFaultsIsExact) {
  World world(4, lossy_plan(true), kQuick);
  spawn_ranks(world.endpoints, [&](Transport& transport) {
    Communicator comm(transport, CommunicatorOptions{.payload_checksums = true});
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.segment_bytes = 4096;
    for (int round = 0; round < 10; ++round) {
      std::vector<float> data(5000);
      for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(comm.rank() * 1000 + i + round);
      ASSERT_TRUE(allreduce(comm, std::span(data), ReduceOp::kSum, options).is_ok());
      for (std::size_t i = 0; i < data.size(); ++i) {
        ASSERT_EQ(data[i], static_cast<float>(6000 + 4 * (i + round))) << "element " << i << " round " << round;
      }
    }
    EXPECT_EQ(comm.stats().duplicates_dropped, 0u) << "the reliable layer dropped them first";
  });
  EXPECT_GT(world.detected().resent, 0u);
}

// A peer that vanished without a word: the sender re-sends with back-off, then gives up within
// give_up_after, naming the peer, the tag and the attempts; receives from the peer fail too.
TEST(ReliableTransport, GivesUpOnASilentPeerWithinItsBoundNamingIt) {
  FaultPlan plan;
  plan.kill_silently = true;
  const ReliableOptions options{.resend_after = 5ms, .max_backoff = 50ms, .give_up_after = 300ms};
  World world(2, plan, options);
  world.faulty[1]->kill();
  Transport& sender = *world.endpoints[0];
  RecvHandle from_dead = sender.recv(1, 9);
  const auto started = std::chrono::steady_clock::now();
  SendHandle send = sender.send(1, header_for(12, 5, 100), Payload::owned(std::vector<std::byte>(100)));
  const Status status = send.wait(in(10'000ms));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  std::printf("gave up after %.3f s: %s\n", std::chrono::duration<double>(elapsed).count(), status.to_string().c_str());
  ASSERT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_THAT(status.message(), HasSubstr("rank 0: rank 1 acknowledged nothing"));
  EXPECT_THAT(status.message(), HasSubstr("tag 0x5 (step 12, 100 bytes"));
  EXPECT_THAT(status.message(), ::testing::ContainsRegex("was sent [0-9]+ times"));
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  const ReliableTransport::Counts counts = world.reliable[0]->counts();
  EXPECT_EQ(counts.gave_up, 1u);
  EXPECT_GE(counts.resent, 4u) << "5, 10, 20, 40, 50 ms... back-off before 300 ms";
  Result<Message> received = from_dead.wait(in(1000ms));
  EXPECT_EQ(received.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(received.status().message(), HasSubstr("acknowledged nothing"));
  EXPECT_EQ(sender.send(1, header_for(13, 5, 0), Payload::owned({})).wait(in(1000ms)).code(),
            StatusCode::kUnavailable)
      << "later sends to a peer given up on fail at once";
}

// A peer whose endpoint closed, as a crashed process's connections reset: its peers learn at once.
TEST(ReliableTransport, AClosedPeerFailsReceivesAndSendsAtOnce) {
  World world(2, FaultPlan{}, kQuick);
  RecvHandle pending = world.endpoints[0]->recv(1, 5);
  const auto started = std::chrono::steady_clock::now();
  world.endpoints[1]->close();
  Result<Message> received = pending.wait(in(10'000ms));
  EXPECT_EQ(received.status().code(), StatusCode::kUnavailable) << received.status().to_string();
  EXPECT_THAT(received.status().message(), HasSubstr("rank 1 is gone"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  const Status sent = world.endpoints[0]->send(1, header_for(0, 5, 0), Payload::owned({})).wait(in(10'000ms));
  EXPECT_EQ(sent.code(), StatusCode::kUnavailable) << sent.to_string();
}

int threads_of_this_process() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

TEST(ReliableTransport, CloseCancelsWhatIsPendingAndEndsItsThreads) {
  const int before = threads_of_this_process();
  std::vector<std::unique_ptr<Transport>> world = wrap_reliable(make_inproc_world(2), kQuick);
  EXPECT_EQ(threads_of_this_process(), before + 4) << "a receive and a re-send thread a rank";
  RecvHandle pending = world[0]->recv(1, 5);
  world[0]->close();
  world[1]->close();
  EXPECT_EQ(threads_of_this_process(), before);
  EXPECT_EQ(pending.wait(in(1000ms)).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(world[0]->send(1, header_for(0, 5, 0), Payload::owned({})).wait(in(1000ms)).code(),
            StatusCode::kCancelled);
}

}  // namespace
}  // namespace courier::testing
