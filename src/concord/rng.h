// Random numbers whose sequence is fixed by the seed on every platform.
//
// xoshiro256++ (Blackman and Vigna): fast, a 32-byte state that is cheap to seed per
// block of work, and output defined bit for bit. std::uniform_*_distribution and
// std::shuffle are implementation-defined, so the engine draws only through this class
// to keep "same seed, same result" true across compilers and standard libraries.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace concord {

// splitmix64: a well-mixed 64-bit value from any input; expands and combines seeds.
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    // Consecutive splitmix64 outputs fill the state, as the xoshiro authors recommend.
    for (auto& word : s_) {
      word = splitmix64(seed);
      seed += 0x9e3779b97f4a7c15ULL;
    }
  }

  uint64_t next() {
    const uint64_t out = rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }

  // Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform integer on [0, n), unbiased (Lemire's multiply-and-reject).
  uint64_t below(uint64_t n);

  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Standard normal draws (Box-Muller): each pair of uniforms gives two variates, the
// second kept for the next call, so a sequence of draws is fixed by the Rng's state.
class StandardNormal {
 public:
  double operator()(Rng& rng) {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));  // 1 - u > 0
    const double angle = 6.283185307179586 * rng.uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace concord
