// Threads as ranks for in-process tests.
#include "testutil/spawn_ranks.h"

#include <exception>
#include <thread>

#include <gtest/gtest.h>

#include "courier/comm/transport/inproc/inproc_transport.h"
#include "courier/core/logging.h"

namespace courier::testing {

void spawn_ranks(std::vector<std::unique_ptr<Transport>>& endpoints, const std::function<void(Transport&)>& fn) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(endpoints.size());
  for (std::size_t r = 0; r < endpoints.size(); ++r) {
    threads.emplace_back([&, r] {
      NodeLogScope scope("rank " + std::to_string(r));
      try {
        fn(*endpoints[r]);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t r = 0; r < errors.size(); ++r) {
    if (!errors[r]) continue;
    try {
      std::rethrow_exception(errors[r]);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "rank " << r << " threw: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "rank " << r << " threw a non-standard exception";
    }
  }
}

void spawn_ranks(int world_size, const std::function<void(Transport&)>& fn) {
  std::vector<std::unique_ptr<Transport>> endpoints = make_inproc_world(world_size);
  spawn_ranks(endpoints, fn);
}

void spawn_communicators(int world_size, const std::function<void(Communicator&)>& fn,
                         const CommunicatorOptions& options) {
  spawn_ranks(world_size, [&](Transport& transport) {
    Communicator comm(transport, options);
    fn(comm);
  });
}

}  // namespace courier::testing
