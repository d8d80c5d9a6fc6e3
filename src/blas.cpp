// R glue: which kernels the system's OpenBLAS chose, so that R can tell users when a
// CPU it cannot name (common on VMs) left it on its slowest ones.
#include <Rcpp.h>
#include <dlfcn.h>

// [[Rcpp::export(.concord_blas_kernels)]]
Rcpp::List concord_blas_kernels() {
  using CoreName = char* (*)();
  auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  bool avx2 = false;
#if defined(__GNUC__) && defined(__x86_64__)
  avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return Rcpp::List::create(Rcpp::Named("openblas_core") = core_name ? std::string(core_name()) : "",
                            Rcpp::Named("cpu_avx2") = avx2);
}
