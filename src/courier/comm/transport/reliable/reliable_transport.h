// ReliableTransport: exactly-once, in-order, intact delivery over a transport that may lose,
// damage, duplicate, delay or reorder messages (a lossy link, or the faulty wrapper in tests).
// Acknowledgements and re-sends with bounded exponential back-off, as ps-lite's resender.
//
// Where it sits. A wrapper, like faulty: inproc -> faulty -> reliable -> Communicator. The
// Communicator above sees an intact FIFO stream per (source, tag), so its own sequence and
// checksum checks stay as an end-to-end assertion (a message this layer let through damaged
// or out of order would still fail loudly), collectives and strategies do not change, and the
// same wrapper serves any transport.
//
// How. The layer owns its link: every message to one peer travels in one stream, on one tag of
// the wrapped transport, wrapped in a frame (docs/wire-format.md, "Reliable frames"):
//   frame header: the stream's sequence number, an XXH3 checksum over itself and all that follows
//   frame payload: the caller's 72-byte header, then the caller's payload
// A thread per rank receives every frame as it arrives, whatever tag the caller will ask for
// (the transport interface has no wildcard tag, so a layer receiving only on the caller's tags
// could not acknowledge a message before the caller posts its receive, and its re-send timer
// would measure the caller's pace instead of the network). It drops damaged frames (any bit of
// header or payload: the checksum covers both) and duplicates, holds frames that overtook a lost
// one, hands the rest up in order, and acknowledges every frame that arrives intact, duplicates
// included: "I hold every frame below N, and this one" (the second half spares the frames that
// overtook a lost one from being re-sent with it). A lost acknowledgement is repaired by the
// re-send it causes. Acknowledgements are checksummed frames too and are never acknowledged.
// A second thread re-sends what stays unacknowledged past a timeout adapted to the measured
// round trip (ReliableOptions::resend_after), doubling it each attempt up to `max_backoff`, and
// gives up `give_up_after` after the first attempt: the peer is then gone for this rank (see
// send()). At most `window` frames to a peer are in flight at once; later ones queue.
//
// Cost: the payload is copied once into the frame, which is kept for re-sends until it is
// acknowledged, and once more for each attempt (the wrapped transport owns what it is given, and
// a fault may damage it). Reliable delivery is for lossy links; "checked" stays zero-copy.
//
// Thread safety: all methods may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "courier/comm/transport/transport.h"

namespace courier {

struct ReliableOptions {
  // Frames in flight to one peer, sent and not acknowledged; later sends queue behind them. Keeps
  // a burst from outrunning the receiver, whose delay would otherwise time every frame out.
  std::size_t window = 64;
  // How long a frame waits for its acknowledgement before it is re-sent: this until a round
  // trip to the peer has been measured, then the smoothed round trip plus four deviations (as
  // TCP), never less than this. In process a round trip takes microseconds, but on a loaded
  // machine a thread may wait a scheduling quantum (a few ms) to run.
  std::chrono::microseconds resend_after{10'000};
  std::chrono::microseconds max_backoff{500'000};  // the wait between re-sends doubles up to this
  // A peer that acknowledges nothing of a frame for this long is gone. Shorter than the callers'
  // own timeouts, so their error names the unreachable peer.
  std::chrono::milliseconds give_up_after{20'000};
};

class ReliableTransport final : public Transport {
 public:
  // Starts this rank's receive and re-send threads. `inner` carries nothing but this layer's
  // frames from now on.
  ReliableTransport(std::unique_ptr<Transport> inner, ReliableOptions options = {});
  ~ReliableTransport() override;  // closes

  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  std::string_view name() const override { return "reliable"; }

  // Copies the payload into a frame (a borrowed payload may be reused as soon as send()
  // returns) and sends it. The handle completes OK when the peer acknowledges the message: its
  // rank holds it for the caller's receive. It fails with UNAVAILABLE when the peer is gone:
  // its endpoint closed, or it acknowledged nothing for give_up_after (the error names the
  // peer, the tag, the step and the attempts). Then its other sends and the receives from it
  // fail with the same error. cancel() detaches the caller only: the message stays in the
  // stream (later ones could not be delivered without it) until acknowledged or given up.
  SendHandle send(int destination, MessageHeader header, Payload payload) override;
  RecvHandle recv(int source, std::uint64_t tag) override;
  // Pending operations complete with CANCELLED; frames not yet acknowledged are abandoned; both
  // threads have ended when it returns. REQUIRES: not called from a completion's waiter.
  void close() override;

  struct Counts {
    std::uint64_t sent = 0;                // messages sent (first attempts)
    std::uint64_t resent = 0;              // further attempts, after a timeout
    std::uint64_t delivered = 0;           // messages handed up, each once and in order
    std::uint64_t rejected = 0;            // damaged frames (data or acknowledgement) dropped
    std::uint64_t duplicates_dropped = 0;  // frames whose message was delivered or held already
    std::uint64_t out_of_order_held = 0;   // frames held until the ones before them arrived
    std::uint64_t acks_sent = 0;
    std::uint64_t acks_received = 0;       // intact acknowledgements, stale ones included
    std::uint64_t gave_up = 0;             // messages whose peer never acknowledged them
    Counts& operator+=(const Counts& other);
  };
  Counts counts() const;

 private:
  struct State;
  void run_receiver();
  void run_resender();

  std::unique_ptr<Transport> inner_;
  std::unique_ptr<State> state_;
};

// Wraps every endpoint of a world.
std::vector<std::unique_ptr<Transport>> wrap_reliable(std::vector<std::unique_ptr<Transport>> endpoints,
                                                      const ReliableOptions& options = {});

}  // namespace courier
