// Parameter server (as ps-lite and BytePS; bounded staleness as Petuum Bösen): S server
// nodes each own a balanced slice of the flat parameter buffer and run the optimizer on it;
// workers push gradients and pull parameters, slice by slice.
//
// Sync modes, counted in clocks (a worker's clock is the number of steps it has pushed):
//   BSP  a server applies clock c once every worker pushed it (their gradients weighted by
//        their share of the step's examples), and answers pulls for c after that. Equivalent
//        to allreduce data parallelism.
//   ASP  every push is applied at once, alone; pulls are answered at once. Workers never wait
//        for each other.
//   SSP  pushes are applied at once, alone; a pull from a worker at clock c waits until the
//        slowest worker has pushed clock c - s (bound s = staleness). s = 0 keeps workers in
//        lockstep without averaging.
// World layout: workers are ranks [0, W), servers [W, W + S) of the communicator.
//
// With a codec (dist.codec) pushes are encoded (with error feedback if asked, a residual a
// slice). Pulls send the encoded change since what that worker last received: the server
// keeps a copy of what each worker holds and adds to it what it sends, so the worker's
// parameters and the copy stay equal and what a pull drops goes out in the next. The first
// pull of a worker, and its last (in finish, so the model it ends with is the servers'),
// carry the slice as it is.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "courier/comm/communicator.h"
#include "courier/train/strategies/strategy.h"

namespace courier {

enum class SyncMode { kBsp, kAsp, kSsp };
std::string_view sync_mode_name(SyncMode mode);
std::optional<SyncMode> parse_sync_mode(std::string_view name);

struct ParameterServerOptions {
  int workers = 1;
  int servers = 1;
  SyncMode sync = SyncMode::kBsp;
  int staleness = 3;  // SSP's bound s
  std::chrono::nanoseconds timeout = std::chrono::minutes(10);  // any single wait
  CompressionOptions compression;  // a codec, not powersgd
};

// The slice of the flat buffer server `index` owns.
struct Slice {
  std::int64_t offset = 0, count = 0;
};
Slice server_slice(std::int64_t parameters, int servers, int index);

// Worker side: a Strategy.
class ParameterServerWorker final : public Strategy {
 public:
  // `world` spans workers and servers. REQUIRES: this rank is a worker.
  ParameterServerWorker(Communicator& world, std::int64_t parameters, ParameterServerOptions options);

  std::string describe() const override;
  Status start(Parameters& params, Optimizer& optimizer) override;
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  Status finish(Parameters& params, Optimizer& optimizer) override;

 private:
  Status pull(Parameters& params, std::int64_t clock, bool whole = false);
  Status apply_reply(ByteSpan reply, int server, std::span<float> slice);

  std::int64_t parameters_;
  ParameterServerOptions options_;
  std::int64_t clock_ = 0;  // steps pushed so far
  std::vector<std::unique_ptr<Codec>> push_codecs_;  // one a server slice, when compressing
  std::unique_ptr<Codec> pull_codec_;                // decodes what the servers send
  std::vector<float> decoded_;
};

// Server side: serves one slice until every worker has finished. `initial` is the whole
// initial parameter buffer (the server keeps its slice); `make_optimizer(count, offset)`
// builds the optimizer for the slice. Observes each applied update through `on_apply`
// (for tests: worker, clock, and the slowest worker's clock at that moment), if set.
struct ServerObserver {
  std::function<void(int worker, std::int64_t pull_clock, std::int64_t slowest_clock)> on_pull_answered;
};
Status run_parameter_server(Communicator& world, std::span<const float> initial,
                            const std::function<std::unique_ptr<Optimizer>(std::int64_t offset, std::int64_t count)>&
                                make_optimizer,
                            const ParameterServerOptions& options, const ServerObserver& observer = {});

}  // namespace courier
