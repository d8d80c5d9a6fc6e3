# concordR: set-up, build, tests, demo and benchmarks. See README.md.
R ?= R
RSCRIPT ?= Rscript
JOBS ?= 2

# OpenBLAS 0.3.21 falls back to its slowest kernels on CPUs it cannot name (common on
# VMs); pick them by the CPU's features instead, unless the caller chose.
ifeq ($(OPENBLAS_CORETYPE),)
  ifneq ($(shell grep -m1 -ow avx512f /proc/cpuinfo 2>/dev/null),)
    export OPENBLAS_CORETYPE := SkylakeX
  else ifneq ($(shell grep -m1 -ow avx2 /proc/cpuinfo 2>/dev/null),)
    export OPENBLAS_CORETYPE := Haswell
  endif
endif

.PHONY: deps install test test-cpp test-r demo check document bench clean

deps:
	sh tools/install-deps.sh

# An install that was interrupted leaves its lock directory behind, and every later one
# then refuses to start: remove it (installs are staged, so the package itself is whole).
install: deps
	rm -rf "$$($(RSCRIPT) -e 'cat(.libPaths()[1])')/00LOCK-$(notdir $(CURDIR))"
	MAKEFLAGS=-j$(JOBS) $(R) CMD INSTALL --no-test-load .

test: install test-cpp test-r

test-cpp: deps
	cmake -S tests/cpp -B build/cpp -DCMAKE_BUILD_TYPE=Release
	cmake --build build/cpp -j $(JOBS)
	ctest --test-dir build/cpp --output-on-failure

test-r: install
	$(RSCRIPT) tools/run-tests.R

demo: install
	$(RSCRIPT) inst/scripts/demo.R demo-output

check: deps
	rm -rf build/check && mkdir -p build/check
	cd build/check && $(R) CMD build ../.. && MAKEFLAGS=-j$(JOBS) _R_CHECK_FORCE_SUGGESTS_=false $(R) CMD check --no-manual concordR_*.tar.gz

document: deps
	$(RSCRIPT) -e 'Rcpp::compileAttributes(".")'
	MAKEFLAGS=-j$(JOBS) $(R) CMD INSTALL --no-test-load .
	$(RSCRIPT) -e 'roxygen2::roxygenise(".", load_code = "installed")'

bench: install
	$(RSCRIPT) bench/bench_runconcord.R $(JOBS)

clean:
	sh cleanup
	rm -rf build demo-output
