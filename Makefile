# ttl: the two set-up commands are `make demo` and `make test` (see README.md).
SWIFT ?= swift
# XCTest only: the project has no Swift Testing tests, and its empty run would print a
# misleading "0 tests" last line.
TEST_FLAGS ?= --disable-swift-testing

.PHONY: all deps build release test bench demo fixtures clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test $(TEST_FLAGS)

# Release benchmark: GFLOP/s of ResNet-18's convolution GEMMs and of Conv2D on them.
bench: deps
	$(SWIFT) build -c release --product ttl-bench
	.build/release/ttl-bench

demo:
	@echo "make demo arrives with the embedded default model (issue 7): fine-tuning does not exist yet." >&2
	@exit 2

# Regenerates the PyTorch kernel fixtures (needs torch==2.13.0 and numpy==2.4.6; CI never runs this).
fixtures:
	python3 scripts/make_fixtures.py

clean:
	rm -rf .build
