// For fuzz targets whose reader takes a path: writes the input to this process's scratch file
// (in /dev/shm when it exists, so no disk is touched) and returns its path.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace courier::fuzz {

inline std::filesystem::path write_input(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static const std::filesystem::path dir =
      std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
  const std::filesystem::path path = dir / ("courier-fuzz-" + std::to_string(getpid()) + suffix);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace courier::fuzz
