# ttl: the two set-up commands are `make demo` and `make test` (see README.md).
SWIFT ?= swift
# XCTest only: the project has no Swift Testing tests, and its empty run would print a
# misleading "0 tests" last line.
TEST_FLAGS ?= --disable-swift-testing
# The suite runs whole networks on both engines, so it is built optimized (release, with
# testing enabled for @testable imports); Package.swift itself carries no unsafe flags.
TEST_BUILD = -c release -Xswiftc -enable-testing

.PHONY: all deps deps-test build release test test-slurm bench demo fixtures clean

all: build

deps:
	@scripts/install-deps.sh

# The build's packages and the tests' (chromium, for the report's browser test).
deps-test:
	@scripts/install-deps.sh --test

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps-test
	$(SWIFT) build $(TEST_BUILD) --build-tests
	$(SWIFT) test $(TEST_BUILD) --skip-build $(TEST_FLAGS)

# Sharded feature extraction on a real single-node Slurm cluster started here (as root; installs
# slurmctld, slurmd and munge when missing): 4 array tasks, one killed and resubmitted, and a
# dependent fine-tune whose model must equal a single-machine run's. About a minute.
test-slurm: release
	TTL=.build/release/ttl scripts/test-slurm.sh

# Release benchmark: GFLOP/s of ResNet-18's convolution GEMMs and of Conv2D on them.
bench: deps
	$(SWIFT) build -c release --product ttl-bench
	.build/release/ttl-bench

# Fine-tunes the embedded EfficientNet-Lite0 on the Fashion-MNIST sample (the model is stored
# as fashion-demo in $$TTL_HOME, default ~/.ttl) and classifies a few validation images.
DEMO_IMAGES = examples/fashion-mnist/val/ankle-boot/ankle-boot-00.png examples/fashion-mnist/val/bag/bag-00.png \
              examples/fashion-mnist/val/dress/dress-00.png examples/fashion-mnist/val/sneaker/sneaker-00.png \
              examples/fashion-mnist/val/trouser/trouser-00.png
demo: release
	.build/release/ttl finetune --data examples/fashion-mnist --epochs 15 --output fashion-demo
	.build/release/ttl predict fashion-demo $(DEMO_IMAGES) --top 2

# Regenerates the test fixtures from the reference frameworks (versions pinned in each script's
# header; CI never runs this). make_default_model.py also rewrites weights/ and needs a release build.
fixtures:
	python3 scripts/make_fixtures.py
	python3 scripts/make_runtime_fixtures.py
	KERAS_BACKEND=torch python3 scripts/make_architecture_fixtures.py
	python3 scripts/make_onnx_fixtures.py
	python3 scripts/make_onnx_op_fixtures.py
	python3 scripts/make_onnx_node_fixtures.py
	python3 scripts/make_torchvision_fixtures.py
	python3 scripts/make_image_fixtures.py
	python3 scripts/make_optimizer_fixtures.py
	python3 scripts/make_keras_fixtures.py
	python3 scripts/make_multilabel_fixtures.py
	swift build -c release --product ttl
	python3 scripts/check_multilabel_export.py --write-fixture

clean:
	rm -rf .build
