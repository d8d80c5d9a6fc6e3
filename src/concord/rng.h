// Random numbers whose sequence is fixed by the seed on every platform.
//
// std::uniform_*_distribution and std::shuffle are implementation-defined, so the
// engine draws through this small wrapper to keep "same seed, same embedding" true
// across compilers and standard libraries.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace concord {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }

  // Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

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
  std::mt19937_64 engine_;
};

}  // namespace concord
