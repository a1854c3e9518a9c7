# courier's front door. `make run` and `make test` do all the set-up they need.
#
#   make run            install what is missing, build, run the main job
#   make test           install what is missing, build, run every test
#   make test-sanitize  the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz           build the libFuzzer targets with clang and fuzz each for a bounded time
#   make bench          micro-benchmarks (tensor kernels against OpenBLAS and naive loops)
#   make data           install the data packages and prepare data/ (the KJV corpus)
#   make clean          remove build/

PRESET ?= release
BUILD_DIR := build/$(PRESET)
COURIER := $(BUILD_DIR)/app/courier
JOBS ?= 2

.PHONY: all deps build run test test-sanitize fuzz bench data clean

all: build

deps:
	@scripts/install-deps

# Configure once; ninja works out what changed on every later build.
$(BUILD_DIR)/build.ninja:
	cmake --preset $(PRESET)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build --preset $(PRESET) -j $(JOBS)

# The main job. Until the language model lands it is the seed example.
run: build
	$(COURIER) demo seed

test: build data
	ctest --preset $(PRESET)

test-sanitize: deps
	$(MAKE) --no-print-directory PRESET=debug build data
	ctest --preset debug

fuzz: deps build/fuzz/build.ninja
	cmake --build --preset fuzz --target fuzzers -j $(JOBS)
	ctest --preset fuzz

build/fuzz/build.ninja:
	cmake --preset fuzz

bench: deps
	@scripts/install-deps bench
	$(MAKE) --no-print-directory build
	$(BUILD_DIR)/bench/bench_matmul

data:
	@scripts/install-deps data
	@scripts/prepare-data

clean:
	rm -rf build
