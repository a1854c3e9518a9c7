// Tests of the mpi transport, run by mpirun on 2, 3 and 4 ranks (CTest comm.mpi.np2/3/4).
// Every test runs on every rank, in definition order (do not shuffle: the last two break
// streams on purpose); ranks without a part in a test pass through. One transport serves the
// whole process, created in main() with small segments so that payloads span many of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include "courier/comm/message.h"
#include "courier/comm/reduce.h"
#include "courier/comm/transport/mpi/mpi_transport.h"

namespace courier {
namespace {

MpiTransport* g_transport = nullptr;

constexpr std::size_t kSegmentBytes = std::size_t{64} << 10;
constexpr Duration kWaitTimeout = std::chrono::seconds(60);

MpiTransport& transport() { return *g_transport; }
int my_rank() { return g_transport->rank(); }
int world() { return g_transport->world_size(); }
Deadline soon() { return Deadline::after(real_clock(), kWaitTimeout); }

std::size_t segments_of(std::size_t bytes) { return (bytes + kSegmentBytes - 1) / kSegmentBytes; }

// Bytes that differ by source, salt and position, so a misplaced segment shows.
std::vector<std::byte> pattern(std::size_t bytes, int source, std::uint64_t salt) {
  std::vector<std::byte> out(bytes);
  std::uint64_t x = salt * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(source) + 1;
  for (auto& b : out) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::byte>(x >> 56);
  }
  return out;
}

ByteSpan bytes_of(const std::vector<std::byte>& v) { return ByteSpan(v.data(), v.size()); }

// A sealed header, as the Communicator would send it.
MessageHeader header_for(int destination, std::uint64_t tag, ByteSpan payload) {
  MessageHeader h;
  h.source = static_cast<std::uint32_t>(my_rank());
  h.destination = static_cast<std::uint32_t>(destination);
  h.tag = tag;
  h.dtype = DType::kU8;
  h.element_count = payload.size();
  seal(h, payload);
  return h;
}

SendHandle send_owned(int destination, std::uint64_t tag, std::vector<std::byte> data) {
  const MessageHeader h = header_for(destination, tag, bytes_of(data));
  return transport().send(destination, h, Payload::owned(std::move(data)));
}

SendHandle send_borrowed(int destination, std::uint64_t tag, ByteSpan data) {
  return transport().send(destination, header_for(destination, tag, data), Payload::borrowed(data));
}

// The message is from `source` with `tag`, intact, and carries exactly `expected`.
void expect_message(const Result<Message>& got, int source, std::uint64_t tag, ByteSpan expected) {
  ASSERT_TRUE(got.is_ok()) << "rank " << my_rank() << " from " << source << " tag " << tag << ": "
                           << got.status().to_string();
  const Message& m = *got;
  EXPECT_EQ(m.header().source, static_cast<std::uint32_t>(source));
  EXPECT_EQ(m.header().destination, static_cast<std::uint32_t>(my_rank()));
  EXPECT_EQ(m.header().tag, tag);
  ASSERT_EQ(m.payload().size(), expected.size()) << "from " << source << " tag " << tag;
  const auto mismatch = std::mismatch(expected.begin(), expected.end(), m.payload().begin());
  EXPECT_TRUE(mismatch.first == expected.end())
      << "first differing byte at " << (mismatch.first - expected.begin()) << " of " << expected.size();
  EXPECT_TRUE(verify_checksum(m.header(), m.payload()).is_ok());
  if (!expected.empty()) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.payload().data()) % 64, 0u);
  }
}

Result<Message> receive(int source, std::uint64_t tag) { return transport().recv(source, tag).wait(soon()); }

// Every rank gets here before any leaves, so counters see no other test's traffic.
void sync_ranks() {
  std::int32_t one = 1;
  ASSERT_TRUE(transport().native_allreduce(MutableByteSpan(reinterpret_cast<std::byte*>(&one), sizeof one),
                                           DType::kI32, 0, soon()).is_ok());
  ASSERT_EQ(one, world());
}

#define REQUIRE_RANKS(n)                                           \
  if (world() < (n)) {                                             \
    GTEST_SKIP() << "needs " << (n) << " ranks, have " << world(); \
  }

TEST(MpiTransport, DescribesItself) {
  EXPECT_EQ(transport().name(), "mpi");
  EXPECT_GE(my_rank(), 0);
  EXPECT_LT(my_rank(), world());
  EXPECT_TRUE(transport().thread_level() == "serialized" || transport().thread_level() == "multiple")
      << transport().thread_level();
}

TEST(MpiTransport, SecondCreateIsAFailedPrecondition) {
  auto second = MpiTransport::create();
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status().to_string();
}

TEST(MpiTransport, SendRejectsAHeaderThatDoesNotDescribeItsPayload) {
  std::vector<std::byte> data(10);
  MessageHeader h = header_for(0, 1, bytes_of(data));
  h.payload_bytes = 11;
  Status status = transport().send(0, h, Payload::borrowed(bytes_of(data))).wait(soon());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.to_string();
  h = header_for(0, 1, bytes_of(data));
  h.element_count = 3;  // 3 u8 elements do not fill 10 bytes
  status = transport().send(0, h, Payload::borrowed(bytes_of(data))).wait(soon());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.to_string();
}

TEST(MpiTransport, SendsToItself) {
  constexpr std::uint64_t kTag = 0x50;
  const auto data = pattern(kSegmentBytes * 2 + 3, my_rank(), kTag);
  SendHandle sent = send_borrowed(my_rank(), kTag, bytes_of(data));
  expect_message(receive(my_rank(), kTag), my_rank(), kTag, bytes_of(data));
  EXPECT_TRUE(sent.wait(soon()).is_ok());
}

// Rank 0 sends, rank 1 echoes the lent payload straight back (a zero-copy borrowed send).
TEST(MpiTransport, PingPongOfEverySize) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x100;
  const std::vector<std::size_t> sizes = {0, 1, 7, 4096, kSegmentBytes - 1, kSegmentBytes, kSegmentBytes + 1,
                                          (std::size_t{3} << 20) + 5};
  const MpiStats before = transport().stats();
  std::size_t segments = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::uint64_t tag = kTag + i;
    const auto data = pattern(sizes[i], 0, tag);
    segments += segments_of(sizes[i]);
    if (my_rank() == 0) {
      SendHandle sent = send_owned(1, tag, data);
      expect_message(receive(1, tag), 1, tag, bytes_of(data));
      EXPECT_TRUE(sent.wait(soon()).is_ok());
    } else if (my_rank() == 1) {
      Result<Message> got = receive(0, tag);
      expect_message(got, 0, tag, bytes_of(data));
      if (!got.is_ok()) continue;
      EXPECT_EQ(got->is_lent(), sizes[i] > 0);
      SendHandle echo = send_borrowed(0, tag, got->payload());
      EXPECT_TRUE(echo.wait(soon()).is_ok());
    }
  }
  if (my_rank() == 0) {
    const MpiStats after = transport().stats();
    EXPECT_EQ(after.segments_sent - before.segments_sent, segments);
    EXPECT_EQ(after.messages_sent - before.messages_sent, sizes.size());
  }
}

// Every rank but 1 sends 100 messages on one tag to rank 1, large ones among small ones so
// that later messages can finish arriving first; rank 1 must see each source's in order.
TEST(MpiTransport, FifoPerSourceAndTag) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x200;
  constexpr int kMessages = 100;
  auto size_of = [](int i) { return i % 10 == 3 ? kSegmentBytes * 3 + static_cast<std::size_t>(i) : std::size_t(i); };
  if (my_rank() != 1) {
    std::vector<SendHandle> sent;
    for (int i = 0; i < kMessages; ++i) sent.push_back(send_owned(1, kTag, pattern(size_of(i), my_rank(), i)));
    for (auto& s : sent) EXPECT_TRUE(s.wait(soon()).is_ok());
    return;
  }
  for (int i = 0; i < kMessages; ++i) {
    for (int source = 0; source < world(); ++source) {
      if (source == 1) continue;
      expect_message(receive(source, kTag), source, kTag, bytes_of(pattern(size_of(i), source, i)));
    }
  }
}

TEST(MpiTransport, DifferentTagsReceivedInTheOppositeOrder) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x300;
  constexpr int kTags = 10;
  if (my_rank() == 0) {
    std::vector<SendHandle> sent;
    for (int i = 0; i < kTags; ++i) sent.push_back(send_owned(1, kTag + i, pattern(100 * i, 0, kTag + i)));
    for (auto& s : sent) EXPECT_TRUE(s.wait(soon()).is_ok());
  } else if (my_rank() == 1) {
    for (int i = kTags - 1; i >= 0; --i) {
      expect_message(receive(0, kTag + i), 0, kTag + i, bytes_of(pattern(100 * i, 0, kTag + i)));
    }
  }
}

TEST(MpiTransport, AnySourceTakesEveryRanksMessage) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x400;
  if (my_rank() != 0) {
    EXPECT_TRUE(send_owned(0, kTag, pattern(1000 + my_rank(), my_rank(), kTag)).wait(soon()).is_ok());
    return;
  }
  std::set<int> sources;
  for (int i = 1; i < world(); ++i) {
    Result<Message> got = receive(kAnySource, kTag);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    const int source = static_cast<int>(got->header().source);
    expect_message(got, source, kTag, bytes_of(pattern(1000 + source, source, kTag)));
    sources.insert(source);
  }
  EXPECT_EQ(sources.size(), static_cast<std::size_t>(world() - 1));
  EXPECT_EQ(sources.count(0), 0u);
}

TEST(MpiTransport, ReceivePostedBeforeTheSend) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x500, kGo = 0x501;
  const auto data = pattern(kSegmentBytes + 9, 0, kTag);
  if (my_rank() == 1) {
    RecvHandle pending = transport().recv(0, kTag);
    EXPECT_FALSE(pending.test());  // rank 0 waits for our go before sending
    EXPECT_TRUE(send_owned(0, kGo, {}).wait(soon()).is_ok());
    expect_message(pending.wait(soon()), 0, kTag, bytes_of(data));
  } else if (my_rank() == 0) {
    ASSERT_TRUE(receive(1, kGo).is_ok());
    EXPECT_TRUE(send_borrowed(1, kTag, bytes_of(data)).wait(soon()).is_ok());
  }
}

// The mpi transport delivers one source's messages in send order, so once the marker sent
// after the data is in, the data is too and a receive matches it at once.
TEST(MpiTransport, ReceivePostedAfterTheArrival) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x600, kMarker = 0x601;
  const auto data = pattern(3 * kSegmentBytes, 0, kTag);
  if (my_rank() == 0) {
    SendHandle a = send_borrowed(1, kTag, bytes_of(data));
    SendHandle b = send_owned(1, kMarker, {});
    EXPECT_TRUE(a.wait(soon()).is_ok());
    EXPECT_TRUE(b.wait(soon()).is_ok());
  } else if (my_rank() == 1) {
    ASSERT_TRUE(receive(0, kMarker).is_ok());
    RecvHandle late = transport().recv(0, kTag);
    EXPECT_TRUE(late.test());
    expect_message(late.wait(soon()), 0, kTag, bytes_of(data));
  }
}

TEST(MpiTransport, BorrowedBufferIsReusableAfterWait) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0x700;
  for (std::size_t bytes : {std::size_t{100}, 5 * kSegmentBytes + 1}) {
    const auto first = pattern(bytes, 0, 1), second = pattern(bytes, 0, 2);
    if (my_rank() == 0) {
      std::vector<std::byte> buffer = first;
      ASSERT_TRUE(send_borrowed(1, kTag, bytes_of(buffer)).wait(soon()).is_ok());
      buffer = second;  // MPI is done with it: overwriting must not change what was sent
      ASSERT_TRUE(send_borrowed(1, kTag, bytes_of(buffer)).wait(soon()).is_ok());
      std::fill(buffer.begin(), buffer.end(), std::byte{0});
    } else if (my_rank() == 1) {
      expect_message(receive(0, kTag), 0, kTag, bytes_of(first));
      expect_message(receive(0, kTag), 0, kTag, bytes_of(second));
    }
  }
}

TEST(MpiTransport, CancelWithdrawsAnUnmatchedReceive) {
  constexpr std::uint64_t kTag = 0x800, kGo = 0x801;
  RecvHandle nobody = transport().recv(kAnySource, kTag + 99);
  nobody.cancel();
  Result<Message> cancelled = nobody.wait(soon());
  EXPECT_EQ(cancelled.status().code(), StatusCode::kCancelled);
  if (world() < 2) return;
  const auto data = pattern(2 * kSegmentBytes, 0, kTag);
  if (my_rank() == 1) {
    RecvHandle withdrawn = transport().recv(0, kTag);
    withdrawn.cancel();
    EXPECT_EQ(withdrawn.wait(soon()).status().code(), StatusCode::kCancelled);
    EXPECT_TRUE(send_owned(0, kGo, {}).wait(soon()).is_ok());
    // The message sent after the cancel goes to the next receive, not the withdrawn one.
    expect_message(receive(0, kTag), 0, kTag, bytes_of(data));
  } else if (my_rank() == 0) {
    ASSERT_TRUE(receive(1, kGo).is_ok());
    EXPECT_TRUE(send_borrowed(1, kTag, bytes_of(data)).wait(soon()).is_ok());
  }
}

// Everyone sends to everyone before anyone receives: nothing may wait for a receive.
TEST(MpiTransport, EveryRankSendsToEveryOtherAtOnce) {
  constexpr std::uint64_t kTag = 0x900;
  constexpr int kRounds = 3;
  auto payload = [](int from, int to, int round) {
    const std::size_t bytes = round == 1 ? 17 : 4 * kSegmentBytes + static_cast<std::size_t>(13 * from + to);
    return pattern(bytes, from, static_cast<std::uint64_t>(to * 100 + round));
  };
  std::vector<std::vector<std::byte>> outgoing;
  std::vector<SendHandle> sent;
  for (int round = 0; round < kRounds; ++round) {
    for (int to = 0; to < world(); ++to) {
      if (to == my_rank()) continue;
      outgoing.push_back(payload(my_rank(), to, round));
    }
  }
  std::size_t next = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int to = 0; to < world(); ++to) {
      if (to != my_rank()) sent.push_back(send_borrowed(to, kTag + round, bytes_of(outgoing[next++])));
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int from = 0; from < world(); ++from) {
      if (from == my_rank()) continue;
      expect_message(receive(from, kTag + round), from, kTag + round, bytes_of(payload(from, my_rank(), round)));
    }
  }
  for (auto& s : sent) EXPECT_TRUE(s.wait(soon()).is_ok());
}

TEST(MpiTransport, ReceiveBuffersAreReused) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0xA00, kAck = 0xA01;
  constexpr int kMessages = 10;
  sync_ranks();
  const MpiStats before = transport().stats();
  for (int i = 0; i < kMessages; ++i) {
    if (my_rank() == 0) {
      ASSERT_TRUE(send_owned(1, kTag, pattern(256 << 10, 0, i)).wait(soon()).is_ok());
      ASSERT_TRUE(receive(1, kAck).is_ok());
    } else if (my_rank() == 1) {
      expect_message(receive(0, kTag), 0, kTag, bytes_of(pattern(256 << 10, 0, i)));  // released here
      ASSERT_TRUE(send_owned(0, kAck, {}).wait(soon()).is_ok());
    }
  }
  const MpiStats after = transport().stats();
  sync_ranks();
  if (my_rank() == 1) {
    EXPECT_LE(after.buffers_allocated - before.buffers_allocated, 1u);
    EXPECT_GE(after.buffers_reused - before.buffers_reused, static_cast<std::uint64_t>(kMessages - 1));
  }
}

TEST(MpiTransport, ReceiveWithAShortDeadlineTimesOut) {
  constexpr std::uint64_t kTag = 0xB00;  // nobody sends on it
  const int source = world() > 1 ? (my_rank() + 1) % world() : kAnySource;
  RecvHandle pending = transport().recv(source, kTag);
  const Stopwatch watch;
  Result<Message> got = pending.wait(Deadline::after(real_clock(), std::chrono::milliseconds(50)));
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded) << got.status().to_string();
  EXPECT_GE(watch.elapsed(), std::chrono::milliseconds(50));
  EXPECT_LT(watch.elapsed(), std::chrono::seconds(5));
  pending.cancel();  // a timed-out receive stays posted until cancelled
  EXPECT_EQ(pending.wait(soon()).status().code(), StatusCode::kCancelled);
}

template <typename T>
Status allreduce(std::vector<T>& values, DType dtype, ReduceOp op) {
  return transport().native_allreduce(std::as_writable_bytes(std::span<T>(values)), dtype, static_cast<int>(op),
                                      soon());
}

TEST(MpiTransport, NativeAllreduceOfF32) {
  const int n = world();
  const int r = my_rank();
  constexpr std::size_t kCount = 100003;
  auto input = [&] {
    std::vector<float> v(kCount);
    for (std::size_t i = 0; i < kCount; ++i) v[i] = static_cast<float>(r) + 0.25f * static_cast<float>(i % 1000);
    return v;
  };
  std::vector<float> sum = input(), avg = input(), max = input();
  ASSERT_TRUE(allreduce(sum, DType::kF32, ReduceOp::kSum).is_ok());
  ASSERT_TRUE(allreduce(avg, DType::kF32, ReduceOp::kAverage).is_ok());
  ASSERT_TRUE(allreduce(max, DType::kF32, ReduceOp::kMax).is_ok());
  for (std::size_t i = 0; i < kCount; ++i) {
    const float q = 0.25f * static_cast<float>(i % 1000);
    ASSERT_EQ(sum[i], static_cast<float>(n * (n - 1) / 2) + static_cast<float>(n) * q) << "element " << i;
    ASSERT_FLOAT_EQ(avg[i], static_cast<float>(n - 1) / 2.0f + q) << "element " << i;
    ASSERT_EQ(max[i], static_cast<float>(n - 1) + q) << "element " << i;
  }
}

TEST(MpiTransport, NativeAllreduceOfI32) {
  const int n = world();
  const int r = my_rank();
  constexpr std::size_t kCount = 1001;
  auto input = [&] {
    std::vector<std::int32_t> v(kCount);
    for (std::size_t i = 0; i < kCount; ++i) v[i] = 1000 * r + static_cast<std::int32_t>(i) - 500;
    return v;
  };
  std::vector<std::int32_t> sum = input(), avg = input(), max = input();
  ASSERT_TRUE(allreduce(sum, DType::kI32, ReduceOp::kSum).is_ok());
  ASSERT_TRUE(allreduce(avg, DType::kI32, ReduceOp::kAverage).is_ok());
  ASSERT_TRUE(allreduce(max, DType::kI32, ReduceOp::kMax).is_ok());
  for (std::size_t i = 0; i < kCount; ++i) {
    const std::int32_t expected_sum = 1000 * n * (n - 1) / 2 + n * (static_cast<std::int32_t>(i) - 500);
    ASSERT_EQ(sum[i], expected_sum) << "element " << i;
    ASSERT_EQ(avg[i], expected_sum / n) << "element " << i;  // integers truncate
    ASSERT_EQ(max[i], 1000 * (n - 1) + static_cast<std::int32_t>(i) - 500) << "element " << i;
  }
}

TEST(MpiTransport, NativeAllreduceRefusesHalfPrecisionAndEmptyIsFine) {
  std::vector<std::uint16_t> halves(8);
  const Status half = allreduce(halves, DType::kF16, ReduceOp::kSum);
  EXPECT_EQ(half.code(), StatusCode::kUnimplemented) << half.to_string();
  EXPECT_TRUE(transport().native_allreduce({}, DType::kF32, 0, soon()).is_ok());
}

// Breaks the stream from rank 0 to rank 1 for good, so it runs second to last: a corrupt
// header is counted and logged, what rank 0 sent before it still arrives, receives from rank
// 0 then fail with DATA_LOSS, and other sources are unaffected.
TEST(MpiTransport, CorruptHeaderBreaksOnlyItsStream) {
  REQUIRE_RANKS(2);
  constexpr std::uint64_t kTag = 0xC00, kAfter = 0xC01, kOther = 0xC02;
  const auto data = pattern(2 * kSegmentBytes, 0, kTag);
  if (my_rank() == 0) {
    SendHandle good = send_borrowed(1, kTag, bytes_of(data));
    std::vector<std::byte> garbage = pattern(kHeaderBytes, 0, 0xBAD);
    SendHandle bad = transport().send_raw_header_for_testing(1, garbage);
    SendHandle lost = send_owned(1, kAfter, pattern(10, 0, kAfter));
    EXPECT_TRUE(good.wait(soon()).is_ok());
    EXPECT_TRUE(bad.wait(soon()).is_ok());
    EXPECT_TRUE(lost.wait(soon()).is_ok());
  } else if (my_rank() == 1) {
    expect_message(receive(0, kTag), 0, kTag, bytes_of(data));
    Result<Message> after = receive(0, kAfter);
    EXPECT_EQ(after.status().code(), StatusCode::kDataLoss) << after.status().to_string();
    EXPECT_NE(after.status().message().find("from rank 0"), std::string::npos) << after.status().message();
    EXPECT_EQ(transport().stats().decode_failures, 1u);  // counted before the failure is delivered
    for (int source = 2; source < world(); ++source) {
      expect_message(receive(source, kOther), source, kOther, bytes_of(pattern(5, source, kOther)));
    }
  } else {
    EXPECT_TRUE(send_owned(1, kOther, pattern(5, my_rank(), kOther)).wait(soon()).is_ok());
  }
}

// Last: closes every rank. Rank 1 closes first; rank 0, waiting for it, learns it is gone.
TEST(MpiTransport, CloseCancelsPendingWorkAndTellsPeers) {
  constexpr std::uint64_t kTag = 0xD00, kNever = 0xD01;
  if (world() >= 2 && my_rank() == 0) {
    RecvHandle from_one = transport().recv(1, kTag);
    RecvHandle from_anyone = transport().recv(kAnySource, kNever);
    Result<Message> gone = from_one.wait(soon());
    EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable) << gone.status().to_string();
    EXPECT_EQ(transport().recv(1, kTag).wait(soon()).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(send_owned(1, kTag, {}).wait(soon()).code(), StatusCode::kUnavailable);
    EXPECT_FALSE(from_anyone.test());
    transport().close();
    EXPECT_EQ(from_anyone.wait(soon()).status().code(), StatusCode::kCancelled);
  } else {
    RecvHandle pending = transport().recv(kAnySource, kNever);
    transport().close();
    EXPECT_EQ(pending.wait(soon()).status().code(), StatusCode::kCancelled);
  }
  EXPECT_EQ(transport().recv(kAnySource, kTag).wait(soon()).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(send_owned(my_rank(), kTag, {}).wait(soon()).code(), StatusCode::kCancelled);
  transport().close();  // idempotent
}

// Failures on any rank, prefixed with the rank, so they stand out in mpirun's merged output.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.summary());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace courier

// One transport for the whole process (MPI initialises once). Each rank returns its own
// verdict; mpirun fails if any rank does.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  courier::MpiOptions options;
  options.segment_bytes = courier::kSegmentBytes;
  auto created = courier::MpiTransport::create(options);
  if (!created.is_ok()) {
    std::fprintf(stderr, "comm_mpi_test: cannot create the mpi transport: %s\n", created.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<courier::MpiTransport> transport = std::move(*created);
  courier::g_transport = transport.get();
  ::testing::UnitTest::GetInstance()->listeners().Append(new courier::RankFailurePrinter(transport->rank()));
  const int failed = RUN_ALL_TESTS();
  courier::g_transport = nullptr;
  transport.reset();  // finalises MPI
  return failed;
}
