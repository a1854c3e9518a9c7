// DeliveryLog: the virtual-time trace of a simulation, one delivery at a time (when it was
// sent, when it arrived, its ends, tag and size). A 64-bit FNV-1a digest of every delivery is
// always kept (equal digests: equal traces); the text, a line a delivery with times in
// picoseconds, only when asked (a 1,024-node ring allreduce delivers 2 million messages).
#pragma once

#include <cstdint>
#include <string>

#include "courier/sim/engine.h"

namespace courier::sim {

class DeliveryLog {
 public:
  void record(Time sent, Time arrived, std::uint64_t source, std::uint64_t destination, std::uint64_t tag,
              std::uint64_t bytes);
  void keep_text(bool on) { keep_text_ = on; }

  std::uint64_t digest() const { return digest_; }
  std::uint64_t count() const { return count_; }
  const std::string& text() const { return text_; }

 private:
  std::uint64_t digest_ = 14695981039346656037ull;  // FNV-1a offset basis
  std::uint64_t count_ = 0;
  bool keep_text_ = false;
  std::string text_;
};

}  // namespace courier::sim
