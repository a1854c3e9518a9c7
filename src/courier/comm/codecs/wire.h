// Little-endian fields inside codec payloads (the hosts we run on are little-endian; the
// message header's checksum covers the payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace courier::codec_wire {

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

// REQUIRES: at + sizeof(T) <= bytes.size() (callers check lengths first).
template <typename T>
T get(std::span<const std::byte> bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

}  // namespace courier::codec_wire
