// The in-process transport: matching, ordering, zero-copy lending, cancel and close.
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/transport/inproc/inproc_transport.h"

namespace courier {
namespace {

using ::testing::HasSubstr;

MessageHeader header_with(std::uint64_t tag, std::uint64_t seq = 0) {
  MessageHeader h;
  h.tag = tag;
  h.seq = seq;
  return h;
}

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> b(text.size());
  std::memcpy(b.data(), text.data(), text.size());
  return b;
}

std::string text_of(ByteSpan bytes) { return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }

const Deadline kNoTimeout = Deadline::at(Duration::max());  // tests here never need to time out

TEST(InprocTransport, SendThenReceiveAndReceiveThenSend) {
  auto world = make_inproc_world(2);
  EXPECT_EQ(world[1]->rank(), 1);
  EXPECT_EQ(world[1]->world_size(), 2);
  ASSERT_TRUE(world[0]->send(1, header_with(5), Payload::owned(bytes_of("early"))).wait(kNoTimeout).is_ok());
  Result<Message> early = world[1]->recv(0, 5).wait(kNoTimeout);
  ASSERT_TRUE(early.is_ok());
  EXPECT_EQ(text_of(early->payload()), "early");
  EXPECT_EQ(early->header().source, 0u);
  EXPECT_EQ(early->header().destination, 1u);

  RecvHandle posted = world[1]->recv(0, 6);
  EXPECT_FALSE(posted.test());
  world[0]->send(1, header_with(6), Payload::owned(bytes_of("late")));
  Result<Message> late = posted.wait(kNoTimeout);
  ASSERT_TRUE(late.is_ok());
  EXPECT_EQ(text_of(late->payload()), "late");
}

TEST(InprocTransport, BorrowedPayloadIsLentNotCopiedAndReturnedOnRelease) {
  auto world = make_inproc_world(2);
  std::vector<std::byte> buffer = bytes_of("zero-copy");
  SendHandle send = world[0]->send(1, header_with(1), Payload::borrowed(buffer));
  Result<Message> got = world[1]->recv(0, 1).wait(kNoTimeout);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->payload().data(), buffer.data()) << "the receiver reads the sender's memory";
  EXPECT_TRUE(got->is_lent());
  EXPECT_FALSE(send.test()) << "the send completes only when the receiver gives the buffer back";
  got->release();
  EXPECT_TRUE(send.test());
  EXPECT_TRUE(send.wait(kNoTimeout).is_ok());
}

TEST(InprocTransport, FifoPerSourceAndTagAcrossInterleavedTags) {
  auto world = make_inproc_world(2);
  for (int i = 0; i < 100; ++i) {
    world[0]->send(1, header_with(i % 2 == 0 ? 10 : 11, static_cast<std::uint64_t>(i)), Payload::owned({}));
  }
  for (std::uint64_t tag : {11, 10}) {
    std::uint64_t last = 0;
    for (int i = 0; i < 50; ++i) {
      Result<Message> m = world[1]->recv(0, tag).wait(kNoTimeout);
      ASSERT_TRUE(m.is_ok());
      if (i > 0) {
        EXPECT_GT(m->header().seq, last);
      }
      last = m->header().seq;
      EXPECT_EQ(m->header().seq % 2, tag == 10 ? 0u : 1u);
    }
  }
}

TEST(InprocTransport, AnySourceTakesTheOldestArrival) {
  auto world = make_inproc_world(3);
  world[2]->send(0, header_with(7), Payload::owned(bytes_of("from 2")));
  world[1]->send(0, header_with(7), Payload::owned(bytes_of("from 1")));
  Result<Message> first = world[0]->recv(kAnySource, 7).wait(kNoTimeout);
  Result<Message> second = world[0]->recv(kAnySource, 7).wait(kNoTimeout);
  ASSERT_TRUE(first.is_ok() && second.is_ok());
  EXPECT_EQ(first->header().source, 2u);
  EXPECT_EQ(second->header().source, 1u);
}

TEST(InprocTransport, WaitTimesOutAndCancelWithdrawsTheReceive) {
  auto world = make_inproc_world(2);
  RecvHandle posted = world[1]->recv(0, 3);
  Result<Message> timed_out = posted.wait(Deadline::after(real_clock(), std::chrono::milliseconds(20)));
  EXPECT_EQ(timed_out.status().code(), StatusCode::kDeadlineExceeded);
  posted.cancel();
  EXPECT_EQ(posted.wait(kNoTimeout).status().code(), StatusCode::kCancelled);
  // A message sent after the cancel is not swallowed by the withdrawn receive.
  world[0]->send(1, header_with(3), Payload::owned(bytes_of("kept")));
  Result<Message> kept = world[1]->recv(0, 3).wait(kNoTimeout);
  ASSERT_TRUE(kept.is_ok());
  EXPECT_EQ(text_of(kept->payload()), "kept");
}

TEST(InprocTransport, CancelWithdrawsAnUntakenSend) {
  auto world = make_inproc_world(2);
  std::vector<std::byte> buffer = bytes_of("never");
  SendHandle send = world[0]->send(1, header_with(4), Payload::borrowed(buffer));
  send.cancel();
  EXPECT_EQ(send.wait(kNoTimeout).code(), StatusCode::kCancelled);
  EXPECT_EQ(world[1]->recv(0, 4).wait(Deadline::after(real_clock(), std::chrono::milliseconds(10))).status().code(),
            StatusCode::kDeadlineExceeded);
}

TEST(InprocTransport, ClosedRankIsGoneForEveryPeer) {
  auto world = make_inproc_world(3);
  RecvHandle waiting_on_one = world[0]->recv(1, 9);
  RecvHandle own_pending = world[1]->recv(2, 9);
  world[1]->close();
  Result<Message> r = waiting_on_one.wait(kNoTimeout);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("rank 1 is gone"));
  EXPECT_EQ(own_pending.wait(kNoTimeout).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(world[2]->send(1, header_with(9), Payload::owned({})).wait(kNoTimeout).code(), StatusCode::kUnavailable);
  EXPECT_EQ(world[2]->recv(1, 9).wait(kNoTimeout).status().code(), StatusCode::kUnavailable);
  // The others still talk.
  world[2]->send(0, header_with(9), Payload::owned(bytes_of("alive")));
  EXPECT_TRUE(world[0]->recv(2, 9).wait(kNoTimeout).is_ok());
}

TEST(InprocTransport, ManyThreadsAllToAll) {
  constexpr int kRanks = 6;
  constexpr int kRounds = 200;
  auto world = make_inproc_world(kRanks);
  std::vector<std::thread> threads;
  std::atomic<int> received{0};
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      for (int round = 0; round < kRounds; ++round) {
        for (int peer = 0; peer < kRanks; ++peer) {
          if (peer != r) world[r]->send(peer, header_with(1, static_cast<std::uint64_t>(round)), Payload::owned({}));
        }
        for (int peer = 0; peer < kRanks; ++peer) {
          if (peer == r) continue;
          Result<Message> m = world[r]->recv(peer, 1).wait(kNoTimeout);
          ASSERT_TRUE(m.is_ok());
          EXPECT_EQ(m->header().seq, static_cast<std::uint64_t>(round));
          received.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(received.load(), kRanks * (kRanks - 1) * kRounds);
}

}  // namespace
}  // namespace courier
