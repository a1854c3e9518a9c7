// spawn_ranks: runs one function per rank of a new in-process world, each on its own thread,
// and joins them. An exception thrown on a rank (a failed COURIER_CHECK, say) is reported as
// a test failure naming the rank instead of terminating the test binary.
#pragma once

#include <functional>
#include <vector>

#include "courier/comm/communicator.h"
#include "courier/comm/transport/transport.h"

namespace courier::testing {

// fn(transport) on ranks 0..n-1 over make_inproc_world(n).
void spawn_ranks(int world_size, const std::function<void(Transport&)>& fn);
// The same over the given endpoints (a faulty wrapper around inproc, say).
void spawn_ranks(std::vector<std::unique_ptr<Transport>>& endpoints, const std::function<void(Transport&)>& fn);
// fn(communicator) with a world Communicator a rank.
void spawn_communicators(int world_size, const std::function<void(Communicator&)>& fn,
                         const CommunicatorOptions& options = {});

}  // namespace courier::testing
