# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-paiov: build Debian's QEMU 10.0 source with the PAIOV patch set.
#
#   make          install build deps (root), fetch, patch, overlay, build
#   make check    unit tests, qtests, guest end-to-end tests
#   make guest-6.12   the test guest on Debian's 6.12 kernel (virtio_snd)
#   make demo     boot the test guest with paiov devices, print a timeline
#                 (SERVER=pulseaudio|pipewire: the host sound server)
#   make bench    battery-life benchmark Native/Base/PAIOV (BENCH_ARGS=...),
#                 then bench-desktop
#   make bench-desktop   the desktop VM, stock vs paiov vs bare (DESKTOP_ARGS)
#   make bench-throughput   active path: stock vs paiov throughput
#   make bench-toggle   host syscalls/IPIs per guest power toggle
#   make bench-coord    host wakeups of N VMs, paiovd coordination off/on
#   make bench-hpet   QEMU wakeups/s of an idle guest, pc/q35, HPET on/off,
#                     stock (make stock) vs patched
#   make stock   the same QEMU source and options without the patch set
#                (build/qemu-system-x86_64-stock)
#   make checkpatch   scripts/checkpatch.pl on patches/ and the overlay
#   make series   upstream-shaped git format-patch series in build/series
#   make series-check   checkpatch + build after each patch of the series
#   make check-asan   unit tests, qtests and audio e2e under ASAN+UBSAN
#   make fuzz-smoke   short generic-fuzz run per paiov device (FUZZ_SMOKE_TIME)
#   make fuzz         long run (FUZZ_TIME seconds per device, docs/testing.md)
#   make paiovd   the host coordinator daemon and its unit tests
#                 (build/paiovd; docs/paiovd.md)

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
	--audio-drv-list=pa,pipewire \
	--enable-pa --enable-pipewire \
	--enable-slirp --enable-tcg --enable-kvm --enable-fdt=system \
	--enable-pixman --enable-sdl --enable-vnc --enable-png \
	--firmwarepath=$(subst $(eval) ,:,$(FIRMWARE_DIRS)) \
	--disable-docs --disable-werror

.PHONY: FORCE all deps qemu test-bins check check-unit check-qtest \
	check-e2e checkpatch demo bench bench-desktop bench-throughput bench-toggle bench-coord clean \
	distclean guest guest-6.12 series series-check asan check-asan fuzz-bin fuzz \
	fuzz-smoke paiovd paiovd-asan bench-hpet check-hda-recording stock

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
# build.ninja by itself when a meson.build changes.  One build directory
# per set of options, all on the same patched tree:
# $(call configure-dir,DIR,OPTIONS)
define configure-dir
$(1)/.configure-opts: FORCE
	@mkdir -p $(1)
	@echo '$(2)' | cmp -s - $$@ || echo '$(2)' > $$@

$(1)/build.ninja: $(1)/.configure-opts | $$(TREE)/.paiov-patched
	tools/place-overlay.sh $$(CURDIR) $$(TREE)
	find $(1) -mindepth 1 -maxdepth 1 ! -name .configure-opts \
		-exec rm -rf {} +
	cd $(1) && $$(CURDIR)/$$(TREE)/configure $(2) \
		> configure.log 2>&1 || { tail -n 40 configure.log; exit 1; }
endef

# run from a build tree, QEMU looks for firmware in qemu-bundle/
# $(call link-firmware,DIR)
link-firmware = for d in $(FIRMWARE_DIRS); do \
		mkdir -p $(1)/qemu-bundle$$(dirname $$d); \
		ln -sfn $$d $(1)/qemu-bundle$$d; \
	done

$(eval $(call configure-dir,$(OBJ),$(CONFIGURE_OPTS)))

qemu: $(TREE)/.paiov-patched $(OBJ)/build.ninja
	tools/place-overlay.sh $(CURDIR) $(TREE)
	ninja -C $(OBJ) -j $(JOBS) qemu-system-x86_64
	$(call link-firmware,$(OBJ))
	ln -sf obj/qemu-system-x86_64 $(QEMU)

# Stock: the same Debian QEMU source and configure options without the
# patch set and the overlay, for the benchmarks that compare against an
# unpatched binary (bench-hpet: the HPET and timer patches change QEMU's
# own code, not a device one can leave out)
STOCK_OBJ = $(BUILD)/stock-obj
QEMU_STOCK = $(BUILD)/qemu-system-x86_64-stock

$(STOCK_OBJ)/.configure-opts: FORCE
	@mkdir -p $(STOCK_OBJ)
	@echo '$(CONFIGURE_OPTS)' | cmp -s - $@ || \
		echo '$(CONFIGURE_OPTS)' > $@

$(STOCK_OBJ)/build.ninja: $(STOCK_OBJ)/.configure-opts \
		$(SRC)/.paiov-debian-version
	find $(STOCK_OBJ) -mindepth 1 -maxdepth 1 ! -name .configure-opts \
		-exec rm -rf {} +
	cd $(STOCK_OBJ) && $(CURDIR)/$(SRC)/configure $(CONFIGURE_OPTS) \
		> configure.log 2>&1 || { tail -n 40 configure.log; exit 1; }

stock: $(STOCK_OBJ)/build.ninja
	ninja -C $(STOCK_OBJ) -j $(JOBS) qemu-system-x86_64
	$(call link-firmware,$(STOCK_OBJ))
	ln -sf stock-obj/qemu-system-x86_64 $(QEMU_STOCK)

# The test guest: Debian kernel + busybox initramfs (tests/guest)
GUEST = $(BUILD)/guest
GUEST_SRC = $(wildcard tests/guest/*.sh tests/guest/init \
	tests/guest/paiov-agent tests/guest/udhcpc.script tests/guest/fbfill.c \
	tests/guest/vgastorm.c)

guest: $(GUEST)/initrd.img

$(GUEST)/initrd.img: $(GUEST_SRC) | $(DEPS_STAMP)
	tests/guest/build-guest.sh $(GUEST)

# The same guest on the 6.12 kernel of bookworm-backports (virtio_snd),
# for the tests that name it (PAIOV_GUEST612_DIR)
GUEST612 = $(BUILD)/guest-6.12

guest-6.12: $(GUEST612)/initrd.img

$(GUEST612)/initrd.img: $(GUEST_SRC) | $(DEPS_STAMP)
	PAIOV_GUEST_KPKG=backports tests/guest/build-guest.sh $(GUEST612)

# paiovd (docs/paiovd.md): a meson project of its own, built apart from
# QEMU into build/paiovd; meson puts ccache in front of the compiler by
# itself when ccache is installed.  Reconfigured only when missing:
# ninja reruns meson when paiovd/meson.build changes.
# A second build with gcc's ASAN+UBSan serves check-asan.
PAIOVD_OBJ = $(BUILD)/paiovd
PAIOVD = $(PAIOVD_OBJ)/paiovd
PAIOVD_ASAN_OBJ = $(BUILD)/paiovd-asan

# $(call paiovd-setup,DIR,MESON_OPTIONS)
define paiovd-setup
$(1)/build.ninja: | $$(DEPS_STAMP)
	rm -rf $(1)
	meson setup $(1) paiovd $(2) > $(1).log 2>&1 || \
		{ tail -n 40 $(1).log; exit 1; }
endef
$(eval $(call paiovd-setup,$(PAIOVD_OBJ),))
PAIOVD_SANITIZE = -Db_sanitize=address,undefined -Db_lundef=false
$(eval $(call paiovd-setup,$(PAIOVD_ASAN_OBJ),$(PAIOVD_SANITIZE)))

paiovd: $(PAIOVD_OBJ)/build.ninja
	ninja -C $(PAIOVD_OBJ) -j $(JOBS)

paiovd-asan: $(PAIOVD_ASAN_OBJ)/build.ninja
	ninja -C $(PAIOVD_ASAN_OBJ) -j $(JOBS)

UNIT_TESTS = tests/unit/test-paiov-vpsa tests/unit/test-paiov-rpm \
	tests/unit/test-timer-notify
PAIOVD_UNIT = $(PAIOVD_OBJ)/test-paiovd
QTESTS = tests/qtest/es1370-paiov-test tests/qtest/e1000-paiov-test \
	tests/qtest/vga-paiov-test tests/qtest/paiov-pma-test \
	tests/qtest/hpet-paiov-test tests/qtest/virtio-snd-paiov-test \
	tests/qtest/intel-hda-paiov-test tests/qtest/timer-notify-test
E2E_TESTS = tests/e2e/test_audio.py tests/e2e/test_audio_hostile.py tests/e2e/test_migration.py \
	tests/e2e/test_runtime_pm.py tests/e2e/test_net.py tests/e2e/test_libvirt.py \
	tests/e2e/test_display.py tests/e2e/test_paiovd.py tests/e2e/test_pipewire.py \
	tests/e2e/test_coord.py tests/e2e/test_virtio_sound.py tests/e2e/test_hda.py \
	tests/e2e/test_input.py
RUN_TESTS = tools/run-tests.py --timeout 900 \
	--env QTEST_QEMU_BINARY=$(CURDIR)/$(OBJ)/qemu-system-x86_64 \
	--env PAIOV_GUEST_DIR=$(CURDIR)/$(GUEST) \
	--env PAIOV_GUEST612_DIR=$(CURDIR)/$(GUEST612) \
	--env PYTHONPATH=$(CURDIR)/python \
	--env PAIOVD=$(CURDIR)/$(PAIOVD)

test-bins: qemu paiovd
	ninja -C $(OBJ) -j $(JOBS) $(UNIT_TESTS) $(QTESTS)

# Everything: style, unit tests, qtests, guest end-to-end tests, the
# same under ASAN+UBSan, a fuzzing smoke run; one summary line.
check: test-bins guest guest-6.12 asan fuzz-bin paiovd-asan
	$(RUN_TESTS) -- tools/checkpatch.sh $(TREE) \
		$(foreach t,$(UNIT_TESTS) $(QTESTS),-- $(OBJ)/$(t) --tap) \
		-- $(PAIOVD_UNIT) --tap \
		$(foreach t,$(E2E_TESTS),-- $(t) $(QEMU)) \
		-- tools/paiov-bench --smoke --qemu $(QEMU) --guest $(GUEST) \
			--out $(BUILD)/bench-smoke \
		-- tools/paiov-bench-desktop --smoke --qemu $(QEMU) \
			--guest $(GUEST) --out $(BUILD)/bench-smoke \
		$(ASAN_CHECKS) $(FUZZ_SMOKE_CHECKS)

check-unit: test-bins
	$(RUN_TESTS) $(foreach t,$(UNIT_TESTS),-- $(OBJ)/$(t) --tap) \
		-- $(PAIOVD_UNIT) --tap

check-qtest: test-bins
	$(RUN_TESTS) $(foreach t,$(QTESTS),-- $(OBJ)/$(t) --tap)

check-e2e: qemu guest guest-6.12 paiovd
	$(RUN_TESTS) $(foreach t,$(E2E_TESTS),-- $(t) $(QEMU))

# test_hda.py's recordings alone (they are in make check too), to
# run them again and again under load (docs/testing.md, "The HDA
# recording")
check-hda-recording: qemu guest
	$(RUN_TESTS) --env PAIOV_HDA_RECORDING=1 -- tests/e2e/test_hda.py $(QEMU)

# The sanitizer and fuzzing build (docs/testing.md): Debian's clang behind
# ccache in its own build directory on the same patched tree, with the
# options of the main build plus AddressSanitizer, UBSan and libFuzzer's
# instrumentation.  One build serves both: its qemu-system-x86_64, unit
# tests and qtests run the ASAN checks (the coverage counters cost a few
# percent), qemu-fuzz-x86_64 the fuzzers; a second sanitizer build would
# double the cold build time of a fresh CI machine for nothing.
FUZZ_OBJ    = $(BUILD)/fuzz
ASAN_OBJ    = $(FUZZ_OBJ)
SAN_CONFIGURE_OPTS = $(filter-out --cc=%,$(CONFIGURE_OPTS)) \
	--cc=$(CURDIR)/tools/clang.sh --cxx=$(CURDIR)/tools/clang++.sh \
	--enable-asan --enable-ubsan --extra-cflags=-fno-omit-frame-pointer
FUZZ_CONFIGURE_OPTS = $(SAN_CONFIGURE_OPTS) --enable-fuzzing

$(eval $(call configure-dir,$(FUZZ_OBJ),$(FUZZ_CONFIGURE_OPTS)))

asan: $(TREE)/.paiov-patched $(FUZZ_OBJ)/build.ninja
	tools/place-overlay.sh $(CURDIR) $(TREE)
	ninja -C $(ASAN_OBJ) -j $(JOBS) qemu-system-x86_64 \
		$(UNIT_TESTS) $(QTESTS)
	$(call link-firmware,$(ASAN_OBJ))

# Each program under tools/sanitizer-run: any ASAN/UBSan/LSan report of
# the test or of a QEMU it starts is one more "not ok".
SAN_LOGS    = $(BUILD)/asan-logs
SAN_RUN     = tools/sanitizer-run --lsan-supp tools/lsan-suppressions.txt \
	--env QTEST_QEMU_BINARY=$(CURDIR)/$(ASAN_OBJ)/qemu-system-x86_64
# The audio e2e tests that drive the host sound path hardest: resets
# during a drain, back-to-back toggles, a server that stops answering or
# takes nothing, every audio device without a server.  ASAN_E2E_ONLY=
# (empty) runs all of test_audio_hostile.py; ASAN_E2E can add
# tests/e2e/test_audio.py (7 more minutes of guest boots under ASAN).
ASAN_E2E   ?= tests/e2e/test_audio_hostile.py
ASAN_E2E_ONLY ?= test_reset_during_drain,test_adc_off_on_back_to_back,$\
test_dac_off_on_within_drain,test_server_stops_answering,$\
test_server_takes_nothing,test_no_server_every_device
# The PipeWire paths (audio/pwaudio.c and the pa backend through
# pipewire-pulse) with es1370-paiov and intel-hda-paiov under qtest:
# cork, passive idle, release in D3hot, the daemon killed mid-play and
# absent at start, a sink that comes late, the drain before the cork
# and stop/start toggles within it and after it.  ASAN_PW_ONLY= (empty)
# runs all of test_pipewire.py, the guest boots of test_guest_plays
# included.
ASAN_PW_E2E ?= tests/e2e/test_pipewire.py
ASAN_PW_ONLY ?= test_sink_suspends,test_release_in_d3hot,$\
test_daemon_killed,test_daemon_absent_at_start,test_sink_comes_late,$\
test_tail_played,test_stop_start_toggles,test_start_after_drain
# $(call asan-e2e,TEST,ONLY): an e2e test file with the ASAN QEMU
asan-e2e = -- $(SAN_RUN) --logs $(SAN_LOGS)/$(basename $(notdir $(1))) \
	$(if $(2),--env PAIOV_E2E_ONLY=$(2)) $(1) $(ASAN_OBJ)/qemu-system-x86_64
ASAN_CHECKS = \
	$(foreach t,$(UNIT_TESTS) $(QTESTS),-- $(SAN_RUN) \
		--logs $(SAN_LOGS)/$(notdir $(t)) $(ASAN_OBJ)/$(t) --tap) \
	$(foreach t,$(ASAN_E2E),$(call asan-e2e,$(t),$(ASAN_E2E_ONLY))) \
	$(foreach t,$(ASAN_PW_E2E),$(call asan-e2e,$(t),$(ASAN_PW_ONLY))) \
	-- $(SAN_RUN) --logs $(SAN_LOGS)/test-paiovd \
		$(PAIOVD_ASAN_OBJ)/test-paiovd --tap \
	-- $(SAN_RUN) --logs $(SAN_LOGS)/test_paiovd \
		--env PAIOVD=$(CURDIR)/$(PAIOVD_ASAN_OBJ)/paiovd \
		tests/e2e/test_paiovd.py $(ASAN_OBJ)/qemu-system-x86_64

check-asan: asan guest paiovd-asan
	$(RUN_TESTS) $(ASAN_CHECKS)

# generic-fuzz (tests/qtest/fuzz, patch 0012) for each paiov device, with
# ASAN+UBSan; seeds from tests/fuzz/make-seeds.py, crash inputs kept in
# tests/fuzz/crashes/ replayed as regression tests, inputs as slow on the
# stock models kept in tests/fuzz/stock-slow/ compared with them again.
FUZZ_BIN    = $(FUZZ_OBJ)/qemu-fuzz-x86_64
FUZZ_TARGETS = es1370-paiov e1000-paiov vga-paiov paiov-powersave \
	intel-hda-paiov virtio-sound-pci-paiov
FUZZ_SMOKE_TIME ?= 30
# seconds a slow input may run on a paiov target and on its stock twin
# when tools/paiov-fuzz compares them (tests/fuzz/stock-slow/ and what
# fuzzing finds slow)
FUZZ_TRIAGE_CAP ?= 20
FUZZ_TIME   ?= 600
FUZZ_MIGRATION_SMOKE ?= 25
FUZZ_MIGRATION_RUNS ?= 300
PAIOV_FUZZ  = tools/paiov-fuzz --bin $(FUZZ_BIN) --out $(BUILD)/fuzz-out
MIGRATION_FUZZ = $(SAN_RUN) --logs $(SAN_LOGS)/migration-fuzz \
	tests/fuzz/migration-fuzz.py --qemu $(ASAN_OBJ)/qemu-system-x86_64 \
	--out $(BUILD)/fuzz-out/migration --replay tests/fuzz/crashes/migration

fuzz-bin: $(TREE)/.paiov-patched $(FUZZ_OBJ)/build.ninja
	tools/place-overlay.sh $(CURDIR) $(TREE)
	ninja -C $(FUZZ_OBJ) -j $(JOBS) qemu-fuzz-x86_64
	$(call link-firmware,$(FUZZ_OBJ))

fuzz-smoke: fuzz-bin asan
	$(RUN_TESTS) $(FUZZ_SMOKE_CHECKS)

FUZZ_SMOKE_CHECKS = -- $(PAIOV_FUZZ) --replay tests/fuzz/crashes \
	-- $(PAIOV_FUZZ) --cap $(FUZZ_TRIAGE_CAP) --triage tests/fuzz/stock-slow \
	$(foreach t,$(FUZZ_TARGETS),-- $(PAIOV_FUZZ) \
		--cap $(FUZZ_TRIAGE_CAP) --time $(FUZZ_SMOKE_TIME) $(t)) \
	-- $(MIGRATION_FUZZ) --runs $(FUZZ_MIGRATION_SMOKE)

# The long run: FUZZ_TIME seconds per target, corpus kept in
# build/fuzz-out/corpus, statistics in build/fuzz-out/stats.md
fuzz: fuzz-bin asan
	$(RUN_TESTS) --timeout $(shell expr $(FUZZ_TIME) + 3600) \
		-- $(PAIOV_FUZZ) --replay tests/fuzz/crashes \
		-- $(PAIOV_FUZZ) --cap $(FUZZ_TRIAGE_CAP) \
			--triage tests/fuzz/stock-slow \
		$(foreach t,$(FUZZ_TARGETS),-- $(PAIOV_FUZZ) \
			--cap $(FUZZ_TRIAGE_CAP) --time $(FUZZ_TIME) $(t)) \
		-- $(MIGRATION_FUZZ) --runs $(FUZZ_MIGRATION_RUNS)

checkpatch: $(TREE)/.paiov-patched
	tools/checkpatch.sh $(TREE)

# The series for qemu-devel, generated from patches/ + overlay as
# tools/series.plan orders them (docs/design.md); series-check applies it
# to a fresh base tree patch by patch: checkpatch and a build after each.
series: $(SRC)/.paiov-debian-version
	tools/make-series $(CURDIR) $(SRC) $(BUILD)/series

# Configured once on the base tree, rebuilt by ninja after each patch:
# qemu-system-x86_64 and the unit tests and qtests the series has so far;
# build/series-check/summary.txt has the table, log/ the logs.
# SERIES_CHECK=--quick: compile only what each patch can break, no link
SERIES_CHECK ?=
series-check: series
	tools/series-check $(SERIES_CHECK) \
		--targets "$(UNIT_TESTS) $(QTESTS)" \
		--author "$$(git config user.name) <$$(git config user.email)>" \
		$(SRC) $(BUILD)/series $(BUILD)/series-check \
		$(JOBS) -- $(CONFIGURE_OPTS)

# Boot the test guest with es1370-paiov against PulseAudio, play, go
# silent, print the power timeline and the host-side effect.
# SERVER=pulseaudio|pipewire: the host sound server of make demo and
# make bench (pipewire: a private PipeWire + WirePlumber session,
# -audiodev pipewire); SOUND=es1370 (default) or hda (ich9-intel-hda +
# hda-duplex)
SERVER ?= pulseaudio
SOUND ?= es1370

demo: qemu guest
	tools/paiov-demo.py --qemu $(QEMU) --guest $(GUEST) --server $(SERVER) \
		--sound $(SOUND)

# Battery-life benchmark after figure 4 of the PAIOV paper: Native, Base
# and PAIOV side by side, then the desktop VM (bench-desktop); both write
# to build/bench (docs/benchmark.md); e.g.
# make bench BENCH_ARGS='--reps 5 --window 60 --ui vnc'
BENCH_ARGS ?=
bench: qemu guest
	rc=0; tools/paiov-bench --qemu $(QEMU) --guest $(GUEST) \
		--out $(BUILD)/bench --server $(SERVER) --sound $(SOUND) \
		$(BENCH_ARGS) || rc=1; \
	$(BENCH_DESKTOP) || rc=1; exit $$rc

# The whole desktop VM (issue 15): q35, Intel HDA (SOUND=es1370 on the
# command line: ES1370), VGA on SDL and on VNC with and without a client,
# e1000, usb-tablet on xHCI; stock vs paiov devices and a bare VM,
# interleaved; build/bench/desktop.md has README's headline table; e.g.
# make bench-desktop DESKTOP_ARGS='--reps 5 --window 20 --displays sdl'
DESKTOP_ARGS ?=
BENCH_DESKTOP = tools/paiov-bench-desktop --qemu $(QEMU) --guest $(GUEST) \
	--out $(BUILD)/bench --server $(SERVER) \
	$(if $(filter command line environment,$(origin SOUND)),--sound $(SOUND)) \
	$(DESKTOP_ARGS)
bench-desktop: qemu guest
	$(BENCH_DESKTOP)

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

# Host wakeup instants of N = 1, 2, 4, 8 TCG VMs, coordination by paiovd
# off vs on, firmware VMs with a running DAC and test guests playing
# (docs/coordinator.md); root (tracefs); e.g.
# make bench-coord COORD_ARGS='-r 5 --window 5 --play-vms 1,4'
COORD_ARGS ?=
bench-coord: qemu paiovd guest
	tools/paiov-bench-coord --qemu $(QEMU) --paiovd $(PAIOVD) \
		--guest $(GUEST) --out $(BUILD)/bench-coord $(COORD_ARGS)

# The platform floor: QEMU wakeups/s of the idle test guest, pc and q35,
# -machine hpet=on and hpet=off, 10 boots each (issue 15, patches/0030-
# 0032), against the stock build (make stock) in the same run,
# interleaved; HPET_STOCK=<another qemu-system-x86_64> replaces it,
# HPET_STOCK= leaves it out; e.g.
# make bench-hpet HPET_BENCH_ARGS='--reps 5 --machine pc'
HPET_STOCK ?= $(QEMU_STOCK)
HPET_BENCH_ARGS ?=
bench-hpet: qemu guest $(if $(filter $(QEMU_STOCK),$(HPET_STOCK)),stock)
	tools/paiov-hpet-bench --qemu $(QEMU) --guest $(GUEST) \
		--out $(BUILD)/bench-hpet $(if $(HPET_STOCK),--stock $(HPET_STOCK)) \
		$(HPET_BENCH_ARGS)

clean:
	rm -rf $(OBJ) $(ASAN_OBJ) $(FUZZ_OBJ) $(TREE) $(QEMU) $(GUEST) \
		$(STOCK_OBJ) $(QEMU_STOCK) \
		$(SAN_LOGS) $(BUILD)/fuzz-out $(PAIOVD_OBJ) $(PAIOVD_ASAN_OBJ)

distclean:
	rm -rf $(BUILD)
