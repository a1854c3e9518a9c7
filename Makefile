# courier's front door. `make run` and `make test` do all the set-up they need.
#
#   make run            install what is missing, build, train the default language model, print a sample
#   make test           install what is missing, build, run every test
#   make test-sanitize  the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan      the unit and integration tests under ThreadSanitizer (clang)
#   make fuzz           build the libFuzzer targets with clang and fuzz each for a bounded time
#   make bench          micro-benchmarks (tensor kernels against OpenBLAS and naive loops)
#   make data           install the data packages and prepare data/ (the KJV corpus)
#   make clean          remove build/

PRESET ?= release
BUILD_DIR := build/$(PRESET)
COURIER := $(BUILD_DIR)/app/courier
JOBS ?= 2

.PHONY: all deps build run test test-sanitize test-tsan fuzz bench data clean

all: build

deps:
	@scripts/install-deps

# Configure once; ninja works out what changed on every later build.
$(BUILD_DIR)/build.ninja:
	cmake --preset $(PRESET)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build --preset $(PRESET) -j $(JOBS)

# The main job: a small character GPT trained on the King James Bible by 2 in-process
# data-parallel nodes (configs/gpt-kjv.toml, a few minutes on 2 cores), then a sample from
# the checkpoint it saved. Builds only the courier program, not the tests.
RUN_DIR := runs/gpt-kjv
run: deps data $(BUILD_DIR)/build.ninja
	cmake --build --preset $(PRESET) -j $(JOBS) --target courier
	$(COURIER) train configs/gpt-kjv.toml --set train.out=$(RUN_DIR)
	$(COURIER) generate $(RUN_DIR)/checkpoints --prompt "And God said" --tokens 500 --temperature 0.8 --seed 1

test: build data
	ctest --preset $(PRESET)

test-sanitize: deps
	$(MAKE) --no-print-directory PRESET=debug build data
	ctest --preset debug

# ThreadSanitizer, built by clang with LLVM's OpenMP runtime, whose Archer tool shows TSan the
# OpenMP barriers (TSAN_OPTIONS in CMakePresets.json: calls from uninstrumented libraries such as
# libomp and OpenBLAS are not judged, as Archer asks; courier's own code always is). Not the mpi
# tests: Open MPI is uninstrumented, and its shared-memory transport and progress thread hand
# buffers over where TSan cannot see, so every receive would read as a race. Not the slow ones.
test-tsan: deps
	$(MAKE) --no-print-directory PRESET=tsan build data
	ctest --preset tsan

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
