# Rampart: `make run` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
DATA ?= var
CMAKE_FLAGS ?=
# Benchmarks are built by `make bench` only: CI's `make test` stays inside its time budget.
BENCH ?= OFF

.PHONY: setup configure build test run bench sanitize fuzz format clean

setup:
	@bash scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAMPART_BUILD_BENCH=$(BENCH) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	@mkdir -p $(DATA)
	$(BUILD)/bin/rampart serve --data $(DATA) --demo

bench:
	@$(MAKE) build BENCH=ON
	@bash scripts/setup bench
	@bash bench/run.sh $(BUILD)

sanitize: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRAMPART_SANITIZE=ON -DRAMPART_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

fuzz: setup
	@bash scripts/setup fuzz
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRAMPART_BUILD_FUZZ=ON -DRAMPART_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

format:
	@find src agent tests bench fuzz -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-fuzz
