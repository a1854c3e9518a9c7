// xoshiro256** (Blackman and Vigna 2018) and the distributions courier draws from it.
#include "courier/core/rng.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "courier/core/check.h"

namespace courier {
namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
__extension__ typedef unsigned __int128 Uint128;  // GCC and clang; -Wpedantic wants the marker

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t splitmix64_next(std::uint64_t& state) {
  state += kGolden;
  return mix64(state);
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream) : seed_(seed) {
  std::uint64_t sm = stream == 0 ? seed : seed ^ mix64(stream + kGolden);
  for (auto& word : state_) word = splitmix64_next(sm);
  // xoshiro must not start from all zeros; splitmix64 cannot produce four zero words
  // in a row, but a resumed state could be corrupt.
  COURIER_CHECK((state_[0] | state_[1] | state_[2] | state_[3]) != 0);
}

Rng Rng::fork(std::uint64_t stream) const {
  // Stream ids are offset by one so that fork(0) differs from this generator's stream 0.
  return Rng(seed_ ^ mix64(stream * kGolden + 0x5EED), stream + 1);
}

Rng Rng::from_state(std::uint64_t seed, const State& state) {
  COURIER_CHECK((state[0] | state[1] | state[2] | state[3]) != 0, "an all-zero xoshiro256** state is invalid");
  Rng rng;
  rng.seed_ = seed;
  rng.state_ = state;
  return rng;
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = std::rotl(state_[3], 45);
  return result;
}

float Rng::uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

float Rng::uniform(float lo, float hi) {
  COURIER_CHECK_LE(lo, hi);
  float value = lo + (hi - lo) * uniform();
  // Rounding of lo + (hi - lo) * u can land on hi; keep the interval half-open.
  return value < hi ? value : lo;
}

double Rng::uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Rng::normal(float mean, float stddev) {
  const double u1 = 1.0 - uniform_double();  // (0, 1]: log is finite
  const double u2 = uniform_double();
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  return mean + stddev * static_cast<float>(z);
}

std::uint64_t Rng::below(std::uint64_t n) {
  COURIER_CHECK_GT(n, 0u);
  Uint128 product = static_cast<Uint128>(next_u64()) * n;
  auto low = static_cast<std::uint64_t>(product);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      product = static_cast<Uint128>(next_u64()) * n;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

void Rng::fill_uniform(std::span<float> out, float lo, float hi) {
  for (float& x : out) x = uniform(lo, hi);
}

void Rng::fill_normal(std::span<float> out, float mean, float stddev) {
  for (float& x : out) x = normal(mean, stddev);
}

}  // namespace courier
