# libreconpatch: a thin wrapper over meson. The two commands a new user needs:
#   make demo    install dependencies, fetch weights, build, run the main job on the bundled examples
#   make check   install dependencies, build, run every test
# and for developers: make check-sanitize (ASan + UBSan), make check-tsan (ThreadSanitizer).
BUILD ?= build
MESON ?= meson
CACHE_DIR ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/reconpatch

# Debian 12 packages needed to build and test (tools/debian-packages.txt is the single list).
DEB_PACKAGES := $(shell grep -v '^\#' tools/debian-packages.txt)

# Extra ninja arguments (e.g. NINJAFLAGS=-j2 on a shared machine).
NINJAFLAGS ?=
SANITIZE_BUILD ?= build-sanitize
TSAN_BUILD ?= build-tsan

.PHONY: all deps weights build check check-sanitize check-tsan demo bench fuzz install clean

all: build

deps:
	@sh tools/install_deps.sh $(DEB_PACKAGES)

weights:
	@sh tools/fetch_weights.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD) $(NINJAFLAGS)

# Weights are fetched first so that the real-weights tests run; without network they skip.
check: deps
	-@sh tools/fetch_weights.sh >/dev/null || echo "make check: weights unavailable, tests that need them will skip"
	@$(MAKE) --no-print-directory build
	@sh tools/run_tests.sh $(BUILD)

# The whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer in its own folder.
# -fno-sanitize-recover: any UBSan finding aborts the test, as an ASan one does (leaks included).
# -Db_lundef=false: the shared library leaves the sanitizer runtime to the program that loads it.
$(SANITIZE_BUILD)/build.ninja:
	$(MESON) setup $(SANITIZE_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all

check-sanitize: deps
	-@sh tools/fetch_weights.sh >/dev/null || echo "make check-sanitize: weights unavailable, tests that need them will skip"
	@$(MAKE) --no-print-directory $(SANITIZE_BUILD)/build.ninja
	ninja -C $(SANITIZE_BUILD) $(NINJAFLAGS)
	@sh tools/run_tests.sh $(SANITIZE_BUILD)

# The concurrency tests (meson suite 'concurrency': threads sharing one model, scorer, extractor or
# bank) built with ThreadSanitizer; tests/meson.build explains the OpenMP settings of this build.
$(TSAN_BUILD)/build.ninja:
	$(MESON) setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false

check-tsan: deps
	@$(MAKE) --no-print-directory $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD) $(NINJAFLAGS)
	@sh tools/run_tests.sh $(TSAN_BUILD) --suite concurrency

demo: deps weights build
	@sh examples/demo.sh $(BUILD)

# The peers run on PyTorch (Debian's python3-torch; the pipeline peer decodes with python3-pil), which the
# tests do not need.
bench: deps weights build
	@sh tools/install_deps.sh python3-torch python3-pil
	@sh bench/run_all.sh $(BUILD)

# Fuzz every parser with libFuzzer (clang, ASan + UBSan) for FUZZ_SECONDS each, in build-fuzz.
FUZZ_SECONDS ?= 60
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/run_fuzz.sh

install: build
	$(MESON) install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(TSAN_BUILD)
