// The trace: records of every send and receive, Chrome JSON with one track a node and flow
// arrows pairing each send with its receive, and the merge of serialized traces.
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

}  // namespace
}  // namespace courier::testing
