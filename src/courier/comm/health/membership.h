// Membership agreement: after a failure, or to admit a node, the candidates of a group agree on
// who is in it. Survivors of an elastic run call it, then build a fresh communicator over the
// members (communicator.h: a failed one stays failed).
//
// The protocol speaks on the transport directly, not through a Communicator, because a
// communicator turns one peer's failure into everyone's: here a dead candidate is simply left
// out. Two rounds, each message tagged with a generation:
//   hello  every candidate sends its `info` to every other and collects theirs. A candidate
//          whose endpoint is closed fails at once; one that stays silent is left out when
//          `timeout` passes. The members heard from, with this rank, are its view.
//   view   every candidate sends its view to every member of it and collects theirs. When all
//          views equal its own, that is the membership.
// A failure in the view round, or views that differ, start the next generation over the views'
// intersection. A candidate that sees a newer generation from a peer jumps to it, so members
// whose failures were noticed at different moments meet in one generation. As in every crash-
// stop protocol, a member that dies just after the last round can make the views disagree
// about it; the first exchange of the new group then fails and the caller agrees again.
//
// A joining node cannot know the generation: a member sends it an invitation (invite()) with
// the generation and candidates, and the node calls await_invitation() and then agree().
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "courier/comm/transport/transport.h"
#include "courier/core/status.h"

namespace courier {

struct MembershipProposal {
  std::vector<int> candidates;   // world ranks; this rank among them
  std::uint64_t generation = 1;  // the caller's next generation (the same on every candidate, usually)
  std::vector<std::byte> info;   // what this rank tells the others (opaque: e.g. its commit steps)
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);  // per round, for a silent candidate
};

struct Membership {
  std::uint64_t generation = 0;  // the generation agreed in; the next agreement starts above it
  std::vector<int> members;      // world ranks, ascending
  std::map<int, std::vector<std::byte>> info;  // each member's info (this rank's too)
  std::vector<int> left_out;     // candidates not in `members`
};

// REQUIRES: this rank is a candidate. UNAVAILABLE when no agreement came in a bounded number
// of generations (every candidate failing at once), CANCELLED when this endpoint closed.
Result<Membership> agree(Transport& transport, const MembershipProposal& proposal);

// Sends `node` an invitation to agree in `generation` with `candidates` (the node among them).
void invite(Transport& transport, int node, std::uint64_t generation, const std::vector<int>& candidates);
struct Invitation {
  std::uint64_t generation = 0;
  std::vector<int> candidates;
};
Result<Invitation> await_invitation(Transport& transport, const Deadline& deadline);

}  // namespace courier
