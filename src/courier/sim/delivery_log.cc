// DeliveryLog: FNV-1a over each delivery's fields, byte by byte.
#include "courier/sim/delivery_log.h"

#include <fmt/format.h>

namespace courier::sim {

void DeliveryLog::record(Time sent, Time arrived, std::uint64_t source, std::uint64_t destination, std::uint64_t tag,
                         std::uint64_t bytes) {
  ++count_;
  const std::uint64_t fields[] = {static_cast<std::uint64_t>(sent), static_cast<std::uint64_t>(arrived), source,
                                  destination, tag, bytes};
  for (std::uint64_t field : fields) {
    for (int i = 0; i < 8; ++i) {
      digest_ ^= (field >> (8 * i)) & 0xff;
      digest_ *= 1099511628211ull;  // FNV-1a prime
    }
  }
  if (keep_text_) text_ += fmt::format("{} {} {} {} {:#x} {}\n", sent, arrived, source, destination, tag, bytes);
}

}  // namespace courier::sim
