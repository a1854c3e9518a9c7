// libFuzzer target: the config loader. Whatever the TOML text, parse_config returns a Status or
// a config that validates, prints as TOML, and parses back to the same config.
//   cmake --preset fuzz && cmake --build --preset fuzz && build/fuzz/fuzz/config_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "courier/train/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  courier::Result<courier::Config> config = courier::parse_config(text, "fuzz input");
  if (!config.is_ok()) return 0;
  if (!courier::validate(*config).is_ok()) return 0;  // parse checks syntax and keys; validate the values
  const std::string printed = courier::to_toml(*config);
  courier::Result<courier::Config> again = courier::parse_config(printed, "printed config");
  if (!again.is_ok() || !(*again == *config)) __builtin_trap();
  return 0;
}
