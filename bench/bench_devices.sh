#!/bin/bash
# The engine's C++ tests, its CUDA cases first, and bench_devices (CPU against CUDA
# training throughput) built against a CUDA LibTorch, on a machine with an NVIDIA GPU;
# R is not needed. Results: bench/README.md, "The CUDA path".
#
#   LIBTORCH_HOME  a CUDA build of LibTorch (default: python3's torch package)
#   DEBS           a folder of Debian 12 packages to unpack for what the machine lacks:
#                  catch2 libfaiss-dev libopenblas0-pthread libopenblas-pthread-dev
#                  libgfortran5 libgloo-dev libgudhi-dev libboost1.74-dev
#                  (apt-get download them on Debian)
#   BENCH_ARGS     bench_devices' arguments (cells genes epochs threads methods)
#
#   DEBS=debs bash bench/bench_devices.sh
set -u
T0=$(date +%s)
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
: "${LIBTORCH_HOME:=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')}"
export LIBTORCH_HOME
CMAKE_ARGS=()
if [ -n "${DEBS:-}" ]; then
  root=/tmp/concord-debs
  mkdir -p $root
  for f in "$DEBS"/*.deb; do dpkg -x "$f" $root; done
  ln -sfn lib/x86_64-linux-gnu $root/usr/lib64
  blas=$root/usr/lib/x86_64-linux-gnu/openblas-pthread
  export FAISS_HOME=$root/usr
  export LD_LIBRARY_PATH=$blas:$root/usr/lib/x86_64-linux-gnu:$LIBTORCH_HOME/lib:${LD_LIBRARY_PATH:-}
  CMAKE_ARGS=(-DCatch2_DIR=$root/usr/lib/cmake/Catch2 -DCMAKE_LIBRARY_PATH=$blas)
fi
mkdir -p build
cmake -S tests/cpp -B build/cuda -DCMAKE_BUILD_TYPE=Release "${CMAKE_ARGS[@]}" > build/cuda-cmake.log 2>&1 ||
  { cat build/cuda-cmake.log; exit 1; }
cmake --build build/cuda -j "$(nproc)" --target engine_tests bench_devices > build/cuda-build.log 2>&1 ||
  { grep -A8 "error" build/cuda-build.log | head -80; exit 1; }
stamp "built"
build/cuda/engine_tests "[cuda]" -r compact; stamp "CUDA tests: exit $?"
build/cuda/bench_devices ${BENCH_ARGS:-100000 2000 2 16 concord,simclr,bascvi}; stamp "benchmark: exit $?"
build/cuda/engine_tests "~[cuda]" -r compact | tail -20; stamp "the other tests: exit ${PIPESTATUS[0]}"
