// Trace: a record of every message a communicator sends and receives, written as Chrome
// trace JSON (chrome://tracing and Perfetto open it): one track a node, a slice for each
// send and receive, and a flow arrow from each send to its receive; metadata (what run it was)
// goes in "otherData". read_chrome_trace() rebuilds a Trace from such a file.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "courier/comm/message.h"
#include "courier/core/clock.h"
#include "courier/core/status.h"

namespace courier {

enum class TraceEvent : std::uint8_t { kSend, kReceive };

struct TraceRecord {
  TraceEvent event;
  std::uint32_t source, destination;
  std::uint64_t tag, seq, step, bytes;
  std::int64_t time_ns;  // on the recording clock (steady time: comparable across processes of one host)
};

// Thread-safe: every node's communicator may record into one Trace.
class Trace {
 public:
  explicit Trace(const Clock& clock = real_clock()) : clock_(&clock) {}
  // REQUIRES: no thread records into `other` meanwhile.
  Trace(Trace&& other) noexcept;
  Trace& operator=(Trace&&) = delete;

  void record(TraceEvent event, const MessageHeader& header);
  std::vector<TraceRecord> records() const;
  std::size_t size() const;

  // What run the records come from ("dist.strategy" -> "allreduce", "gradient_bytes" ->
  // "3720"): written as strings under "otherData". Setting a key again replaces its value.
  void set_metadata(const std::string& key, const std::string& value);
  std::map<std::string, std::string> metadata() const;

  // Chrome trace JSON. Times start at the earliest record; "otherData" holds the metadata, the
  // format's version ("courier_trace") and the earliest record's time ("origin_ns"), so that
  // read_chrome_trace() gets every field back.
  std::string to_chrome_json() const;
  // Writes to_chrome_json() to `path` atomically (temporary file, then rename).
  Status write(const std::string& path) const;

  // Compact text form of the records, for gathering traces of other processes onto one.
  std::string serialize() const;
  // Adds records produced by serialize(). DATA_LOSS if the text is malformed.
  Status merge(std::string_view serialized);

 private:
  friend Result<Trace> read_chrome_trace(const std::string& path);

  const Clock* clock_;
  mutable std::mutex mutex_;
  std::vector<TraceRecord> records_;
  std::map<std::string, std::string> metadata_;
};

// Reads a file Trace::write() produced: its records (sorted by time) and metadata.
// NOT_FOUND when the file cannot be opened; DATA_LOSS, naming the file and what is wrong, when
// it is not JSON, not a Chrome trace, or a Chrome trace without courier's message events.
Result<Trace> read_chrome_trace(const std::string& path);

class Communicator;

// Sends every rank's records to `root`, which merges them into its `trace`: one file for a
// multi-process run. Every rank of `comm` calls it. (In-process nodes share one Trace and
// need no gathering.)
Status gather_trace(Communicator& comm, Trace& trace, int root, const Deadline& deadline);

}  // namespace courier
