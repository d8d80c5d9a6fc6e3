// What the engine's hand-written kernels (kernels.cpp, layer_norm.cpp) share: each has a
// baseline build and an AVX2+FMA build, chosen at run time by the CPU's features (not
// its model name, which VMs often hide), so the package stays portable while using the
// wide units where they exist.
#pragma once

#if defined(__GNUC__) && defined(__x86_64__)
#define CONCORD_X86_FMA 1
#define CONCORD_FMA __attribute__((target("avx2,fma")))
#endif

namespace concord {

// Whether this CPU has AVX2 and FMA (always false where no FMA build is compiled).
inline bool use_fma() {
#ifdef CONCORD_X86_FMA
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

// Eight floats; aligned(4) makes loads and stores through it unaligned-safe.
typedef float v8 __attribute__((vector_size(32), aligned(4)));

}  // namespace concord
