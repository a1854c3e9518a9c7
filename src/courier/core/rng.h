// Rng: the one source of randomness in courier. xoshiro256** seeded through splitmix64,
// integer arithmetic only, so a seed gives the same stream on every platform and
// compiler. Independent streams (one a node, one a purpose) come from fork(stream).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>

namespace courier {

// splitmix64 (Steele, Lea, Flood 2014): a 64-bit mixer used to expand a seed into
// generator state. Exposed for hashing seeds; not a generator for training.
std::uint64_t splitmix64_next(std::uint64_t& state);

// Not thread-safe: give each thread its own Rng (fork it).
class Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  // Stream 0 of `seed` is the reference xoshiro256** seeded by splitmix64(seed).
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);

  // A generator independent of this one and of every other stream id.
  // Depends only on the seed this Rng was made from and `stream`, not on its position.
  Rng fork(std::uint64_t stream) const;

  std::uint64_t next_u64();
  std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }

  // Uniform in [0, 1) with 24 random bits (every float in the grid k / 2^24).
  float uniform();
  // Uniform in [lo, hi). REQUIRES: lo <= hi.
  float uniform(float lo, float hi);
  // Uniform in [0, 1) with 53 random bits.
  double uniform_double();
  // Standard normal by Box-Muller (one value per two uniforms; nothing cached).
  float normal(float mean = 0.0f, float stddev = 1.0f);
  // Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). REQUIRES: n > 0.
  std::uint64_t below(std::uint64_t n);

  void fill_uniform(std::span<float> out, float lo, float hi);
  void fill_normal(std::span<float> out, float mean, float stddev);

  // Fisher-Yates, the same permutation on every platform.
  template <typename T>
  void shuffle(std::span<T> items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(items[i - 1], items[j]);
    }
  }

  // For checkpoints: the position in the stream, and a generator resumed from it.
  State state() const { return state_; }
  std::uint64_t seed() const { return seed_; }
  static Rng from_state(std::uint64_t seed, const State& state);

 private:
  Rng() = default;
  std::uint64_t seed_ = 0;
  State state_{};
};

}  // namespace courier
