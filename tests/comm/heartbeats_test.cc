#include "courier/comm/health/heartbeats.h"

#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/transport/inproc/inproc_transport.h"

namespace courier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Each rank's first suspicion, as a future.
struct Suspicions {
  explicit Suspicions(int ranks) : promises(static_cast<std::size_t>(ranks)), once(static_cast<std::size_t>(ranks)) {}
  Heartbeats::OnSuspect for_rank(int rank) {
    return [this, rank](int peer, const Status& why) {
      std::call_once(once[static_cast<std::size_t>(rank)],
                     [&] { promises[static_cast<std::size_t>(rank)].set_value({peer, why}); });
    };
  }
  std::pair<int, Status> first(int rank) {
    std::future<std::pair<int, Status>> f = promises[static_cast<std::size_t>(rank)].get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "rank " << rank << " suspected nobody";
    return f.get();
  }
  std::vector<std::promise<std::pair<int, Status>>> promises;
  std::vector<std::once_flag> once;
};

TEST(HeartbeatsTest, AClosedEndpointIsSuspectedByEveryPeer) {
  auto endpoints = make_inproc_world(3);
  Suspicions suspicions(3);
  const HeartbeatOptions options{std::chrono::milliseconds(10), std::chrono::seconds(20)};
  std::vector<std::unique_ptr<Heartbeats>> beats;
  for (int r = 0; r < 3; ++r) {
    beats.push_back(std::make_unique<Heartbeats>(*endpoints[static_cast<std::size_t>(r)], std::vector<int>{0, 1, 2},
                                                 options, suspicions.for_rank(r)));
  }
  beats[2]->stop();
  endpoints[2]->close();
  for (int r : {0, 1}) {
    auto [peer, why] = suspicions.first(r);
    EXPECT_EQ(peer, 2);
    EXPECT_EQ(why.code(), StatusCode::kUnavailable);
    EXPECT_THAT(why.message(), HasSubstr("rank 2 is gone"));
  }
  // Long before the 20 s timeout: the closed endpoint was seen, and the live peers were not suspected.
  EXPECT_THAT(beats[0]->suspected(), ElementsAre(2));
  EXPECT_THAT(beats[1]->suspected(), ElementsAre(2));
  EXPECT_GT(beats[0]->beats_received(), 0u);
}

TEST(HeartbeatsTest, ASilentPeerIsSuspectedAfterTheTimeout) {
  auto endpoints = make_inproc_world(2);
  Suspicions suspicions(2);
  const HeartbeatOptions options{std::chrono::milliseconds(10), std::chrono::milliseconds(300)};
  Heartbeats zero(*endpoints[0], {1}, options, suspicions.for_rank(0));
  // Rank 1's endpoint stays open but nothing on it beats: a hung process.
  const auto started = std::chrono::steady_clock::now();
  auto [peer, why] = suspicions.first(0);
  EXPECT_EQ(peer, 1);
  EXPECT_THAT(why.message(), HasSubstr("rank 1 sent no heartbeat for"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
}

}  // namespace
}  // namespace courier
