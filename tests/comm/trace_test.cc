// The trace: records of every send and receive, Chrome JSON with one track a node and flow
// arrows pairing each send with its receive, the merge of serialized traces, and reading a
// written trace back with its metadata.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "courier/comm/collectives/collectives.h"
#include "courier/comm/trace.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

TEST(Trace, RecordsEverySendAndReceiveOfACollective) {
  Trace trace;
  spawn_communicators(
      3,
      [](Communicator& comm) {
        std::vector<float> data(300, 1.0f);
        CollectiveOptions options;
        options.algorithm = AllreduceAlgorithm::kRing;
        ASSERT_TRUE(allreduce(comm, std::span(data), ReduceOp::kSum, options).is_ok());
      },
      CommunicatorOptions{.trace = &trace});
  // Ring allreduce of 3 ranks: each sends 2 (n-1) messages and receives as many.
  std::size_t sends = 0, receives = 0;
  for (const TraceRecord& r : trace.records()) (r.event == TraceEvent::kSend ? sends : receives)++;
  EXPECT_EQ(sends, 12u);
  EXPECT_EQ(receives, 12u);

  const nlohmann::json json = nlohmann::json::parse(trace.to_chrome_json());
  std::map<std::uint64_t, int> flow_ends;
  std::set<int> tracks;
  for (const auto& event : json["traceEvents"]) {
    if (event["ph"] == "s") flow_ends[event["id"].get<std::uint64_t>()] += 1;
    if (event["ph"] == "f") flow_ends[event["id"].get<std::uint64_t>()] += 10;
    if (event["ph"] == "M") tracks.insert(event["tid"].get<int>());
  }
  EXPECT_EQ(tracks, (std::set<int>{0, 1, 2})) << "one named track a node";
  EXPECT_EQ(flow_ends.size(), 12u);
  for (const auto& [id, ends] : flow_ends) EXPECT_EQ(ends, 11) << "flow " << id << " needs one start and one end";
}

TEST(Trace, SerializeMergeAndWrite) {
  Trace a, b;
  MessageHeader h;
  h.source = 0;
  h.destination = 1;
  h.tag = 5;
  h.payload_bytes = 64;
  a.record(TraceEvent::kSend, h);
  b.record(TraceEvent::kReceive, h);
  ASSERT_TRUE(a.merge(b.serialize()).is_ok());
  EXPECT_EQ(a.size(), 2u);
  EXPECT_FALSE(a.merge("not a record\n").is_ok());

  const std::string path = (std::filesystem::temp_directory_path() / "courier_trace_test.json").string();
  ASSERT_TRUE(a.write(path).is_ok());
  std::ifstream in(path);
  const nlohmann::json json = nlohmann::json::parse(in);
  EXPECT_GE(json["traceEvents"].size(), 4u);
  std::filesystem::remove(path);
  Status bad = a.write("/nonexistent-dir/trace.json");
  EXPECT_EQ(bad.code(), StatusCode::kNotFound);
  EXPECT_THAT(bad.message(), ::testing::HasSubstr("/nonexistent-dir/trace.json"));
}

TEST(Trace, ReadBackGivesEveryRecordAndTheMetadata) {
  ManualClock clock(std::chrono::nanoseconds(5'000'000'123));
  Trace trace(clock);
  MessageHeader h;
  h.source = 2;
  h.destination = 0;
  h.tag = (std::uint64_t{3} << 48) | (kUserTagLimit + 9);  // a group context and a runtime tag
  h.seq = 7;
  h.step = 41;
  h.payload_bytes = 123456;
  trace.record(TraceEvent::kSend, h);
  clock.advance(std::chrono::nanoseconds(1'234'567));
  trace.record(TraceEvent::kReceive, h);
  trace.set_metadata("dist.strategy", "ps");
  trace.set_metadata("gradient_bytes", "3720");
  const std::string path = (std::filesystem::temp_directory_path() / "courier_trace_round_trip.json").string();
  ASSERT_TRUE(trace.write(path).is_ok());

  Result<Trace> read = read_chrome_trace(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  const std::vector<TraceRecord> want = trace.records(), got = read->records();
  ASSERT_EQ(got.size(), 2u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].event, want[i].event);
    EXPECT_EQ(got[i].source, 2u);
    EXPECT_EQ(got[i].destination, 0u);
    EXPECT_EQ(got[i].tag, h.tag);
    EXPECT_EQ(got[i].seq, 7u);
    EXPECT_EQ(got[i].step, 41u);
    EXPECT_EQ(got[i].bytes, 123456u);
    EXPECT_EQ(got[i].time_ns, want[i].time_ns);
  }
  EXPECT_EQ(read->metadata(), (std::map<std::string, std::string>{{"dist.strategy", "ps"}, {"gradient_bytes", "3720"}}));
}

TEST(Trace, ReadingAMissingMalformedOrForeignFileSaysWhich) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  Result<Trace> missing = read_chrome_trace((dir / "courier-no-such-trace.json").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), ::testing::HasSubstr("courier-no-such-trace.json"));

  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {R"({"traceEvents": [)", "is not JSON"},
      {R"({"events": []})", "not a Chrome trace"},
      {R"({"traceEvents": [{"ph": "X", "name": "gemm", "cat": "kernel", "ts": 1}]})", "not a courier trace"},
      {R"({"traceEvents": [{"ph": "X", "name": "send -> rank 1", "cat": "message", "ts": 1, "tid": 0,
                            "args": {"peer": 1, "tag": "0x5"}}]})",
       "lacks a field"},
  };
  const std::string path = (dir / "courier_trace_bad.json").string();
  for (const Case& c : cases) {
    std::ofstream(path) << c.text;
    Result<Trace> read = read_chrome_trace(path);
    EXPECT_EQ(read.status().code(), StatusCode::kDataLoss) << c.says;
    EXPECT_THAT(read.status().message(), ::testing::HasSubstr(c.says));
    EXPECT_THAT(read.status().message(), ::testing::HasSubstr("courier_trace_bad.json"));
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace courier::testing
