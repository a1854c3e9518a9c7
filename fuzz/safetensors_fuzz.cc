// libFuzzer target: the checkpoint reader's tensor file (safetensors). Whatever the bytes,
// read_safetensors returns a Status or tensors whose values match their shapes, and stays
// inside its buffers (ASan checks that); what it reads writes back and reads again the same.
//   cmake --preset fuzz && cmake --build --preset fuzz && build/fuzz/fuzz/safetensors_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "courier/train/checkpoint/safetensors.h"
#include "file_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = courier::fuzz::write_input(data, size, ".safetensors");
  courier::Result<courier::SafetensorsFile> file = courier::read_safetensors(path);
  if (!file.is_ok()) return 0;
  std::vector<courier::NamedTensor> views;
  for (const courier::OwnedTensor& t : file->tensors) {
    std::int64_t count = 1;
    for (std::int64_t d : t.shape) count *= d;
    if (count != static_cast<std::int64_t>(t.values.size())) __builtin_trap();
    views.push_back(t.view());
  }
  const std::filesystem::path again = path.string() + ".again";
  if (!courier::write_safetensors(again, views, file->metadata).is_ok()) __builtin_trap();
  courier::Result<courier::SafetensorsFile> reread = courier::read_safetensors(again);
  if (!reread.is_ok() || reread->tensors.size() != file->tensors.size() || reread->metadata != file->metadata) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < views.size(); ++i) {
    const courier::OwnedTensor& a = file->tensors[i];
    const courier::OwnedTensor& b = reread->tensors[i];
    // Bytes, not floats: a NaN must come back as the same NaN.
    if (a.name != b.name || a.shape != b.shape || a.values.size() != b.values.size() ||
        (!a.values.empty() && std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) != 0)) {
      __builtin_trap();
    }
  }
  return 0;
}
