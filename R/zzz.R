.onAttach <- function(libname, pkgname) {
  blas <- .concord_blas_kernels()
  if (tolower(blas$openblas_core) %in% c("prescott", "core2", "katmai") && blas$cpu_avx2) {
    packageStartupMessage(
      "concordR: OpenBLAS did not recognise this CPU and uses its slowest (", blas$openblas_core,
      ") kernels, which roughly doubles RunConcord's training time. Start R with ",
      "OPENBLAS_CORETYPE=Haswell (or SkylakeX on AVX-512 CPUs) set to use the fast ones.")
  }
}
