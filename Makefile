# libreconpatch: a thin wrapper over meson. The two commands a new user needs:
#   make demo    install dependencies, fetch weights, build, run the main job on the bundled examples
#   make check   install dependencies, build, run every test
BUILD ?= build
MESON ?= meson
CACHE_DIR ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/reconpatch

# Debian 12 packages needed to build and test (tools/debian-packages.txt is the single list).
DEB_PACKAGES := $(shell grep -v '^\#' tools/debian-packages.txt)

.PHONY: all deps weights build check demo bench fuzz install clean

all: build

deps:
	@sh tools/install_deps.sh $(DEB_PACKAGES)

weights:
	@sh tools/fetch_weights.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Weights are fetched first so that the real-weights tests run; without network they skip.
check: deps
	-@sh tools/fetch_weights.sh >/dev/null || echo "make check: weights unavailable, tests that need them will skip"
	@$(MAKE) --no-print-directory build
	@sh tools/run_tests.sh $(BUILD)

demo: deps weights build
	@sh examples/demo.sh $(BUILD)

bench: deps weights build
	@sh bench/run_all.sh $(BUILD)

# Fuzz every parser with libFuzzer (clang, ASan + UBSan) for FUZZ_SECONDS each, in build-fuzz.
FUZZ_SECONDS ?= 60
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/run_fuzz.sh

install: build
	$(MESON) install -C $(BUILD)

clean:
	rm -rf $(BUILD)
