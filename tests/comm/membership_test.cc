#include "courier/comm/health/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "courier/comm/transport/inproc/inproc_transport.h"

namespace courier {
namespace {

using ::testing::ElementsAre;

std::vector<std::byte> bytes_of(int value) { return {static_cast<std::byte>(value)}; }

// Runs agree() on the ranks in `voters` of a world of `world`, every voter proposing all ranks.
std::vector<Result<Membership>> vote(std::vector<std::unique_ptr<Transport>>& endpoints, const std::vector<int>& voters,
                                     std::chrono::milliseconds timeout) {
  std::vector<int> all;
  for (int r = 0; r < static_cast<int>(endpoints.size()); ++r) all.push_back(r);
  std::vector<Result<Membership>> results(endpoints.size(), Status::cancelled("did not vote"));
  std::vector<std::thread> threads;
  for (int r : voters) {
    threads.emplace_back([&, r] {
      results[static_cast<std::size_t>(r)] = agree(
          *endpoints[static_cast<std::size_t>(r)],
          MembershipProposal{.candidates = all, .generation = 5, .info = bytes_of(10 + r), .timeout = timeout});
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

TEST(MembershipTest, SurvivorsLeaveOutAClosedRankAndShareTheirInfo) {
  auto endpoints = make_inproc_world(4);
  endpoints[2]->close();  // as a crashed node: its peers learn at once
  const auto results = vote(endpoints, {0, 1, 3}, std::chrono::minutes(1));
  for (int r : {0, 1, 3}) {
    const Result<Membership>& m = results[static_cast<std::size_t>(r)];
    ASSERT_TRUE(m.is_ok()) << r << ": " << m.status().to_string();
    EXPECT_THAT(m->members, ElementsAre(0, 1, 3));
    EXPECT_THAT(m->left_out, ElementsAre(2));
    EXPECT_EQ(m->generation, 5u);
    ASSERT_EQ(m->info.size(), 3u);
    EXPECT_EQ(m->info.at(3), bytes_of(13));
    EXPECT_EQ(m->info.at(0), bytes_of(10));
  }
}

TEST(MembershipTest, ASilentRankIsLeftOutAfterTheTimeout) {
  auto endpoints = make_inproc_world(3);
  // Rank 1 is alive (its endpoint open) but never answers, as a hung node.
  const auto results = vote(endpoints, {0, 2}, std::chrono::milliseconds(200));
  for (int r : {0, 2}) {
    const Result<Membership>& m = results[static_cast<std::size_t>(r)];
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_THAT(m->members, ElementsAre(0, 2));
    EXPECT_THAT(m->left_out, ElementsAre(1));
  }
}

TEST(MembershipTest, AnInvitedNodeJoins) {
  auto endpoints = make_inproc_world(3);
  std::vector<Result<Membership>> results(3, Status::cancelled("none"));
  std::thread joiner([&] {
    Result<Invitation> invitation = await_invitation(*endpoints[2], Deadline::after(real_clock(), std::chrono::minutes(1)));
    ASSERT_TRUE(invitation.is_ok());
    EXPECT_EQ(invitation->generation, 9u);
    results[2] = agree(*endpoints[2], MembershipProposal{.candidates = invitation->candidates,
                                                          .generation = invitation->generation,
                                                          .info = bytes_of(2)});
  });
  std::vector<std::thread> members;
  for (int r : {0, 1}) {
    members.emplace_back([&, r] {
      if (r == 0) invite(*endpoints[0], 2, 9, {0, 1, 2});
      results[static_cast<std::size_t>(r)] =
          agree(*endpoints[static_cast<std::size_t>(r)],
                MembershipProposal{.candidates = {0, 1, 2}, .generation = 9, .info = bytes_of(r)});
    });
  }
  joiner.join();
  for (std::thread& t : members) t.join();
  for (const Result<Membership>& m : results) {
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_THAT(m->members, ElementsAre(0, 1, 2));
    EXPECT_TRUE(m->left_out.empty());
  }
}

TEST(MembershipTest, MembersThatStartInDifferentGenerationsMeetInTheNewest) {
  auto endpoints = make_inproc_world(3);
  std::vector<Result<Membership>> results(3, Status::cancelled("none"));
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      // Rank 0 noticed one failure fewer than the others.
      results[static_cast<std::size_t>(r)] =
          agree(*endpoints[static_cast<std::size_t>(r)],
                MembershipProposal{.candidates = {0, 1, 2}, .generation = r == 0 ? 3u : 4u, .info = bytes_of(r)});
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Result<Membership>& m : results) {
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_THAT(m->members, ElementsAre(0, 1, 2));
    EXPECT_EQ(m->generation, 4u);
  }
}

}  // namespace
}  // namespace courier
