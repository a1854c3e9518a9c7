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
//
// Elastic recovery (options.elastic; docs/fault-tolerance.md):
// - A dead worker (its endpoint closed) or a silent one (no word for worker_timeout while it
//   is the slowest and not waiting on this server) leaves the clocks: BSP's open clock is
//   applied from the pushes that came (reweighted to sum to one), SSP's bound follows the
//   slowest live worker. Every pull's answer names the workers dropped, and the workers re-shard
//   the batch over the live ones (data_share). Without elastic the server ends the run naming it.
// - With servers >= 2, server i sends a replica of its slice (values, optimizer state, clocks)
//   to server (i + 1) % S every replicate_every updates. A worker whose server is gone sends its
//   push and pull for that slice to the replica's server, which takes the slice over from the
//   replica: the updates after the replica are lost (on_updates_lost counts them). A slice taken
//   over is not replicated again, so a second death of the same slice ends the run.
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
  bool elastic = false;            // dist.recovery = "elastic": the run outlives a dead node
  std::int64_t replicate_every = 10;  // elastic, servers >= 2: a slice's updates between replicas
  // Elastic: a worker this long without a word, the slowest and not waiting on the server, is
  // taken for dead (a hang). Longer than any step.
  std::chrono::nanoseconds worker_timeout = std::chrono::minutes(2);
  // Fault injection (dist.faults kill:N@S on a server): this server closes its endpoint right
  // after its slice's update number die_after_updates (from 1), before replicating or answering
  // it, and returns OK. -1: never.
  std::int64_t die_after_updates = -1;
  // SSP (dist.stragglers = "skip"): a worker whose compute a step (as its pushes report it)
  // exceeds twice the median is left out of the staleness bound until it is back under 1.5x;
  // its pushes are still applied as they come, so the others keep their pace and only its own
  // updates grow staler than the bound.
  bool skip_stragglers = false;
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
  // This worker's place among the workers no server has dropped (known from the last pull).
  std::optional<DataShare> data_share() const override;

  // The server (index in [0, S)) serving slice `slice` now: its own, or the replica's.
  int server_of(int slice) const { return owner_[static_cast<std::size_t>(slice)]; }

 private:
  // Pull kinds: the step's (after its push, which a takeover replays), the first and the last.
  enum class PullKind { kStep, kStart, kFinish };
  Status pull(Parameters& params, std::int64_t clock, PullKind kind);
  void send_pull(int slice, std::int64_t clock, bool whole);
  // The push of step `clock` for `slice`; encoded when compressing, unless `plain`.
  void send_push(int slice, std::int64_t clock, std::span<const float> grads, bool plain);
  // Moves `slice` to the server holding its replica after `reason` (its server is gone).
  Status fail_over(int slice, const Status& reason);
  Status apply_reply(ByteSpan reply, int server, std::span<float> slice);

  std::int64_t parameters_;
  ParameterServerOptions options_;
  std::int64_t clock_ = 0;  // steps pushed so far
  std::chrono::steady_clock::time_point ready_since_ = std::chrono::steady_clock::now();  // the last pull's end
  std::vector<int> owner_;     // per slice: the server index serving it
  std::vector<bool> dropped_;  // per worker: dropped by some server
  std::vector<std::unique_ptr<Codec>> push_codecs_;  // one a server slice, when compressing
  std::unique_ptr<Codec> pull_codec_;                // decodes what the servers send
  std::vector<float> decoded_;
};

// Server side: serves its slice until every worker has finished or been dropped. `initial` is
// the whole initial parameter buffer (the server keeps its slice, and the slice it replicates,
// for a takeover before the first replica); `make_optimizer(offset, count)` builds a slice's
// optimizer. The observer's hooks, if set, are called on the server's thread (for tests and
// metrics): every answered pull (worker, clock, and the slowest live worker's clock then,
// a straggler left out of SSP's bound counted);
// a worker dropped (its clock then); a slice taken over (the updates its replica reflects);
// updates of a taken-over slice its replica missed (pushes for SSP and ASP, clocks for BSP).
struct ServerObserver {
  std::function<void(int worker, std::int64_t pull_clock, std::int64_t slowest_clock)> on_pull_answered;
  std::function<void(int worker, std::int64_t clock)> on_worker_dropped;
  std::function<void(int slice, std::int64_t replica_updates)> on_takeover;
  std::function<void(int slice, std::int64_t lost_updates)> on_updates_lost;
  // skip_stragglers: a worker left out of (or back in) SSP's bound, with its compute over the median.
  std::function<void(int worker, bool straggling, double ratio)> on_straggler;
};
Status run_parameter_server(Communicator& world, std::span<const float> initial,
                            const std::function<std::unique_ptr<Optimizer>(std::int64_t offset, std::int64_t count)>&
                                make_optimizer,
                            const ParameterServerOptions& options, const ServerObserver& observer = {});

}  // namespace courier
