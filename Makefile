# concordR: set-up, build, tests, demo and benchmarks. See README.md.
R ?= R
RSCRIPT ?= Rscript
JOBS ?= 2

.PHONY: deps install test test-cpp test-r demo check document bench clean

deps:
	sh tools/install-deps.sh

install: deps
	MAKEFLAGS=-j$(JOBS) $(R) CMD INSTALL --no-test-load .

test: install test-cpp test-r

test-cpp: deps
	cmake -S tests/cpp -B build/cpp -DCMAKE_BUILD_TYPE=Release
	cmake --build build/cpp -j $(JOBS)
	ctest --test-dir build/cpp --output-on-failure

test-r: install
	$(RSCRIPT) tools/run-tests.R

demo: install
	$(RSCRIPT) inst/demo/demo.R demo-output

check: deps
	rm -rf build/check && mkdir -p build/check
	cd build/check && $(R) CMD build ../.. && MAKEFLAGS=-j$(JOBS) _R_CHECK_FORCE_SUGGESTS_=false $(R) CMD check --no-manual concordR_*.tar.gz

document: deps
	$(RSCRIPT) -e 'Rcpp::compileAttributes(".")'
	MAKEFLAGS=-j$(JOBS) $(R) CMD INSTALL --no-test-load .
	$(RSCRIPT) -e 'roxygen2::roxygenise(".", load_code = "installed")'

bench: install
	$(RSCRIPT) bench/bench_runconcord.R

clean:
	sh cleanup
	rm -rf build demo-output
