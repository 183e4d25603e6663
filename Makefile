# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-paiov: build Debian's QEMU 10.0 source with the PAIOV patch set.
#
#   make          install build deps (root), fetch, patch, overlay, build
#   make check    unit tests, qtests, guest end-to-end tests
#   make demo     boot the test guest with paiov devices, print a timeline
#   make bench    battery-life benchmark Native/Base/PAIOV (BENCH_ARGS=...)
#   make bench-throughput   active path: stock vs paiov throughput
#   make bench-toggle   host syscalls/IPIs per guest power toggle
#   make checkpatch   scripts/checkpatch.pl on patches/ and the overlay
#   make series   upstream-shaped git format-patch series in build/series
#   make series-check   checkpatch + build after each patch of the series

BUILD      ?= build
SRC         = $(BUILD)/qemu-src
TREE        = $(BUILD)/qemu
OBJ         = $(BUILD)/obj
QEMU        = $(BUILD)/qemu-system-x86_64
PATCHES     = $(sort $(wildcard patches/*.patch))
DEPS_STAMP  = $(BUILD)/.deps-stamp
JOBS       ?= $(shell nproc)

# ccache (installed by tools/install-deps.sh, used by meson): share hits
# between checkouts in different directories
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

FIRMWARE_DIRS = /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu
CONFIGURE_OPTS = \
	--cc=$(CURDIR)/tools/cc.sh \
	--target-list=x86_64-softmmu \
	--without-default-features \
	--disable-install-blobs --disable-download \
	--python=/usr/bin/python3 \
	--audio-drv-list=pa \
	--enable-pa --enable-slirp --enable-tcg --enable-kvm --enable-fdt=system \
	--enable-pixman --enable-sdl --enable-vnc --enable-png \
	--firmwarepath=$(subst $(eval) ,:,$(FIRMWARE_DIRS)) \
	--disable-docs --disable-werror

.PHONY: FORCE all deps qemu test-bins check check-unit check-qtest \
	check-e2e checkpatch demo bench bench-throughput bench-toggle clean \
	distclean guest series series-check

all: qemu

deps: $(DEPS_STAMP)

$(DEPS_STAMP): tools/install-deps.sh
	@mkdir -p $(BUILD)
	PAIOV_DEPS_STAMP=$@ tools/install-deps.sh

$(SRC)/.paiov-debian-version: tools/qemu-version tools/fetch-qemu.sh \
		| $(DEPS_STAMP)
	tools/fetch-qemu.sh $(BUILD)

$(TREE)/.paiov-patched: $(SRC)/.paiov-debian-version $(PATCHES) \
		tools/prepare-tree.sh
	tools/prepare-tree.sh $(SRC) $(TREE) patches
	touch $@

# Reconfigure only when the options change: a new patch set only touches
# the files it patches (timestamps are kept), and meson regenerates
# build.ninja by itself when a meson.build changes.
$(OBJ)/.configure-opts: FORCE
	@mkdir -p $(OBJ)
	@echo '$(CONFIGURE_OPTS)' | cmp -s - $@ || echo '$(CONFIGURE_OPTS)' > $@

$(OBJ)/build.ninja: $(OBJ)/.configure-opts | $(TREE)/.paiov-patched
	tools/place-overlay.sh $(CURDIR) $(TREE)
	find $(OBJ) -mindepth 1 -maxdepth 1 ! -name .configure-opts \
		-exec rm -rf {} +
	cd $(OBJ) && $(CURDIR)/$(TREE)/configure $(CONFIGURE_OPTS) \
		> configure.log 2>&1 || { tail -n 40 configure.log; exit 1; }

qemu: $(TREE)/.paiov-patched $(OBJ)/build.ninja
	tools/place-overlay.sh $(CURDIR) $(TREE)
	ninja -C $(OBJ) -j $(JOBS) qemu-system-x86_64
	@# run from the build tree, QEMU looks for firmware in qemu-bundle/
	for d in $(FIRMWARE_DIRS); do \
		mkdir -p $(OBJ)/qemu-bundle$$(dirname $$d); \
		ln -sfn $$d $(OBJ)/qemu-bundle$$d; \
	done
	ln -sf obj/qemu-system-x86_64 $(QEMU)

# The test guest: Debian kernel + busybox initramfs (tests/guest)
GUEST = $(BUILD)/guest
GUEST_SRC = $(wildcard tests/guest/*.sh tests/guest/init \
	tests/guest/paiov-agent tests/guest/udhcpc.script tests/guest/fbfill.c \
	tests/guest/vgastorm.c)

guest: $(GUEST)/initrd.img

$(GUEST)/initrd.img: $(GUEST_SRC) | $(DEPS_STAMP)
	tests/guest/build-guest.sh $(GUEST)

UNIT_TESTS = tests/unit/test-paiov-vpsa tests/unit/test-paiov-rpm
QTESTS = tests/qtest/es1370-paiov-test tests/qtest/e1000-paiov-test \
	tests/qtest/vga-paiov-test tests/qtest/paiov-pma-test
E2E_TESTS = tests/e2e/test_audio.py tests/e2e/test_audio_hostile.py tests/e2e/test_migration.py \
	tests/e2e/test_runtime_pm.py tests/e2e/test_net.py tests/e2e/test_libvirt.py \
	tests/e2e/test_display.py
RUN_TESTS = tools/run-tests.py --timeout 900 \
	--env QTEST_QEMU_BINARY=$(CURDIR)/$(OBJ)/qemu-system-x86_64 \
	--env PAIOV_GUEST_DIR=$(CURDIR)/$(GUEST) \
	--env PYTHONPATH=$(CURDIR)/python

test-bins: qemu
	ninja -C $(OBJ) -j $(JOBS) $(UNIT_TESTS) $(QTESTS)

# Everything: style, unit tests, qtests, guest end-to-end tests.
check: test-bins guest
	$(RUN_TESTS) -- tools/checkpatch.sh $(TREE) \
		$(foreach t,$(UNIT_TESTS) $(QTESTS),-- $(OBJ)/$(t) --tap) \
		$(foreach t,$(E2E_TESTS),-- $(t) $(QEMU)) \
		-- tools/paiov-bench --smoke --qemu $(QEMU) --guest $(GUEST) \
			--out $(BUILD)/bench-smoke

check-unit: test-bins
	$(RUN_TESTS) $(foreach t,$(UNIT_TESTS),-- $(OBJ)/$(t) --tap)

check-qtest: test-bins
	$(RUN_TESTS) $(foreach t,$(QTESTS),-- $(OBJ)/$(t) --tap)

check-e2e: qemu guest
	$(RUN_TESTS) $(foreach t,$(E2E_TESTS),-- $(t) $(QEMU))

checkpatch: $(TREE)/.paiov-patched
	tools/checkpatch.sh $(TREE)

# The series for qemu-devel, generated from patches/ + overlay as
# tools/series.plan orders them (docs/design.md); series-check applies it
# to a fresh base tree patch by patch: checkpatch and a build after each.
series: $(SRC)/.paiov-debian-version
	tools/make-series $(CURDIR) $(SRC) $(BUILD)/series

# SERIES_CHECK=--quick: compile only what each patch can break, no link
SERIES_CHECK ?=
series-check: series
	tools/series-check $(SERIES_CHECK) $(SRC) $(BUILD)/series $(BUILD)/series-check \
		$(JOBS) -- $(CONFIGURE_OPTS)

# Boot the test guest with es1370-paiov against PulseAudio, play, go
# silent, print the power timeline and the host-side effect.
demo: qemu guest
	tools/paiov-demo.py --qemu $(QEMU) --guest $(GUEST)

# Battery-life benchmark after figure 4 of the PAIOV paper: Native, Base
# and PAIOV side by side (docs/benchmark.md); e.g.
# make bench BENCH_ARGS='--reps 5 --window 60 --ui vnc'
BENCH_ARGS ?=
bench: qemu guest
	tools/paiov-bench --qemu $(QEMU) --guest $(GUEST) --out $(BUILD)/bench \
		$(BENCH_ARGS)

# The active path costs the same: network rx/tx and playback, stock
# ES1370/e1000 vs the paiov devices (docs/benchmark.md)
THROUGHPUT_ARGS ?=
bench-throughput: qemu guest
	tools/paiov-throughput --qemu $(QEMU) --out $(BUILD)/throughput \
		$(THROUGHPUT_ARGS)

# What a guest that toggles its devices' power costs the host: syscalls
# and IPIs per toggle, stock vs paiov with and without debounce
# (docs/benchmark.md); e.g. make bench-toggle TOGGLE_ARGS='-r 5'
TOGGLE_ARGS ?=
bench-toggle: qemu
	tools/paiov-toggle-bench --qemu $(QEMU) $(TOGGLE_ARGS)

clean:
	rm -rf $(OBJ) $(TREE) $(QEMU) $(GUEST)

distclean:
	rm -rf $(BUILD)
