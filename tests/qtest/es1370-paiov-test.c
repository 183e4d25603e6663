/*
 * QTest for es1370-paiov: the virtual PSA of the power-aware ES1370
 *
 * Everything runs under qtest's virtual clock: channel enable/disable
 * through the CONTROL register, D3hot/D0 through PMCSR, the event, the
 * audio timer, guest errors and migration of the power state.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_regs.h"
#include "qemu/timer.h"
#include "paiov-qtest.h"

#define PAIOV_DEVFN QPCI_DEVFN(4, 0)
#define STOCK_DEVFN QPCI_DEVFN(5, 0)
#define PM_CAP 0xdc

#define REG_CONTROL 0x00
#define REG_MEMPAGE 0x0c
#define REG_SERIAL_CONTROL 0x20
#define REG_DAC2_SCOUNT 0x28
#define REG_DAC2_FRAMEADR 0x38      /* in memory page 0xc */
#define REG_DAC2_FRAMECNT 0x3c      /* in memory page 0xc */
#define CTRL_DAC2_EN 0x20
#define SCTRL_P2_S16_STEREO 0x0c
#define CTRL_PCLKDIV_44100 (30 << 16)

#define ARGS "-M pc -audiodev none,id=snd0 " \
    "-device es1370-paiov,audiodev=snd0,id=snd,addr=04.0 "

typedef PaiovFixture Fixture;

static const PaiovFixtureOpts opts = {
    .args = ARGS, .name = "es1370-paiov", .devfn = PAIOV_DEVFN, .barno = 0,
};

static void fixture_start(Fixture *f, const char *extra)
{
    paiov_fixture_start(f, &opts, extra, false);
}

#define fixture_stop paiov_fixture_stop

/* Program DAC2 for 44.1 kHz 16-bit stereo playback from guest memory */
static void dac2_setup(Fixture *f)
{
    qpci_io_writel(f->dev, f->bar, REG_MEMPAGE, 0xc);
    qpci_io_writel(f->dev, f->bar, REG_DAC2_FRAMEADR, 0x100000);
    qpci_io_writel(f->dev, f->bar, REG_DAC2_FRAMECNT, 0xff);
    qpci_io_writel(f->dev, f->bar, REG_DAC2_SCOUNT, 0x3ff);
    qpci_io_writel(f->dev, f->bar, REG_SERIAL_CONTROL, SCTRL_P2_S16_STEREO);
}

static void dac2_enable(Fixture *f, bool on)
{
    qpci_io_writel(f->dev, f->bar, REG_CONTROL,
                   CTRL_PCLKDIV_44100 | (on ? CTRL_DAC2_EN : 0));
}

static void pmcsr_write(Fixture *f, uint16_t val)
{
    qpci_config_writew(f->dev, PM_CAP + PCI_PM_CTRL, val);
}

/*
 * Guards the capability layout: D0/D3hot only, at the real chip's offset,
 * stock ES1370 unchanged beside it (same IDs, no capability).
 */
static void test_capability(void)
{
    Fixture f;
    QPCIDevice *stock;
    uint16_t pmc;

    fixture_start(&f, "-device ES1370,audiodev=snd0,addr=05.0");
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x1274);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x5000);
    g_assert_cmphex(qpci_find_capability(f.dev, PCI_CAP_ID_PM, 0), ==,
                    PM_CAP);
    pmc = qpci_config_readw(f.dev, PM_CAP + PCI_PM_PMC);
    g_assert_false(pmc & (PCI_PM_CAP_D1 | PCI_PM_CAP_D2));
    g_assert_cmphex(pmc & PCI_PM_CAP_PME_MASK, ==, 0);

    stock = qpci_device_find(f.bus, STOCK_DEVFN);
    g_assert_nonnull(stock);
    g_assert_cmphex(qpci_config_readw(stock, PCI_DEVICE_ID), ==, 0x5000);
    g_assert_cmphex(qpci_find_capability(stock, PCI_CAP_ID_PM, 0), ==, 0);
    g_free(stock);
    fixture_stop(&f);
}

/*
 * Guards the core regression: a guest that disables its DAC must leave no
 * timer armed (the hot 4 ms audio timer of the paper), and the proxy PMA
 * must cork the host stream.
 */
static void test_channels(void)
{
    Fixture f;
    QDict *ev;
    g_autofree char *action = NULL;

    fixture_start(&f, NULL);
    paiov_assert_state(f.qts, "idle");
    g_assert_false(paiov_timer_armed(f.qts));

    dac2_setup(&f);
    dac2_enable(&f, true);
    paiov_assert_state(f.qts, "active");
    ev = qtest_qmp_eventwait_ref(f.qts, "PAIOV_POWER_STATE_CHANGE");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "new"), ==,
                    "active");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "reason"),
                    ==, "device-active");
    qobject_unref(ev);
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));

    dac2_enable(&f, false);
    paiov_assert_state(f.qts, "idle");
    /* what was buffered plays out, then the timer stops for good */
    qtest_clock_step(f.qts, 100 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    action = paiov_audio_action(f.qts);
    g_assert_cmpstr(action, ==, "cork");

    /* rate-limited event of the second change, delivered after 1 s */
    ev = qtest_qmp_eventwait_ref(f.qts, "PAIOV_POWER_STATE_CHANGE");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "new"), ==,
                    "idle");
    qobject_unref(ev);
    fixture_stop(&f);
}

/*
 * Guards D3hot: BARs off, voices paused even with the DAC left enabled,
 * the stream released; D0 brings all of it back.
 */
static void test_d3hot(void)
{
    Fixture f;
    g_autofree char *action = NULL;
    g_autofree char *action2 = NULL;

    fixture_start(&f, NULL);
    dac2_setup(&f);
    dac2_enable(&f, true);
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));

    pmcsr_write(&f, 3);
    paiov_assert_state(f.qts, "d3hot");
    g_assert_cmphex(qpci_config_readw(f.dev, PM_CAP + PCI_PM_CTRL) & 3, ==,
                    3);
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_CONTROL), ==, 0xffffffff);
    qtest_clock_step(f.qts, 200 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    action = paiov_audio_action(f.qts);
    g_assert_cmpstr(action, ==, "release");

    pmcsr_write(&f, 0);
    paiov_assert_state(f.qts, "active");
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_CONTROL) & CTRL_DAC2_EN,
                    ==, CTRL_DAC2_EN);
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));
    action2 = paiov_audio_action(f.qts);
    g_assert_cmpstr(action2, ==, "run");

    /* reset from D3hot: D0, idle */
    pmcsr_write(&f, 3);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(f.qts, "RESET");
    paiov_assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/*
 * Guards against a guest confusing the device: D1/D2 (not advertised) and
 * reserved PMCSR bits are logged as guest errors and change nothing.
 */
static void test_invalid_pmcsr(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    paiov_fixture_start(&f, &opts, NULL, true);

    pmcsr_write(&f, 1);
    paiov_assert_state(f.qts, "idle");
    g_assert_cmphex(qpci_config_readw(f.dev, PM_CAP + PCI_PM_CTRL) & 3, ==,
                    0);
    pmcsr_write(&f, 2);
    paiov_assert_state(f.qts, "idle");
    pmcsr_write(&f, 0x00f0);
    paiov_assert_state(f.qts, "idle");
    g_assert_cmphex(qpci_config_readw(f.dev, PM_CAP + PCI_PM_CTRL) & 0xf4,
                    ==, 0);
    /* and the device still works */
    pmcsr_write(&f, 3);
    paiov_assert_state(f.qts, "d3hot");
    pmcsr_write(&f, 0);
    paiov_assert_state(f.qts, "idle");
    log = fixture_stop(&f);

    g_assert_nonnull(strstr(log, "unsupported power state D1"));
    g_assert_nonnull(strstr(log, "unsupported power state D2"));
    g_assert_nonnull(strstr(log, "reserved PMCSR bits 0xf0"));
}

/*
 * Guards migration of the power state: the destination ends up in the
 * source's state and re-applies the host action itself.
 */
static void migrate_in_state(bool d3hot)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *action = NULL;
    g_autofree char *uri = NULL;
    QPCIBus *dst_bus;
    QPCIDevice *dst_dev;
    QPCIBar bar;
    QDict *info;

    fixture_start(&f, NULL);
    dac2_setup(&f);
    if (d3hot) {
        dac2_enable(&f, true);
        pmcsr_write(&f, 3);
        paiov_assert_state(f.qts, "d3hot");
    }
    uri = paiov_migrate_to_file(f.qts, "es1370-paiov");

    dst = qtest_initf(ARGS "-incoming %s", uri);
    paiov_wait_running(dst);
    info = paiov_info(dst);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==,
                    d3hot ? "d3hot" : "idle");
    if (d3hot) {
        g_assert_cmpstr(qdict_get_str(info, "last-reason"), ==,
                        "migration");
    }
    qobject_unref(info);
    action = paiov_audio_action(dst);
    g_assert_cmpstr(action, ==, d3hot ? "release" : "cork");
    qtest_clock_step(dst, 200 * SCALE_MS);
    g_assert_false(paiov_timer_armed(dst));

    /* the destination's BAR works again once the guest writes D0 */
    dst_bus = qpci_new_pc(dst, NULL);
    dst_dev = qpci_device_find(dst_bus, PAIOV_DEVFN);
    bar = qpci_legacy_iomap(dst_dev, f.bar.addr);
    qpci_config_writew(dst_dev, PM_CAP + PCI_PM_CTRL, 0);
    g_assert_cmphex(qpci_io_readl(dst_dev, bar, REG_CONTROL) & CTRL_DAC2_EN,
                    ==, d3hot ? CTRL_DAC2_EN : 0);
    qtest_clock_step(dst, 50 * SCALE_MS);
    g_assert_cmpint(paiov_timer_armed(dst), ==, d3hot);
    g_free(dst_dev);
    qpci_free_pc(dst_bus);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_idle(void)
{
    migrate_in_state(false);
}

static void test_migrate_d3hot(void)
{
    migrate_in_state(true);
}

#define VPSA "paiov-es1370/vpsa"

/* PaiovPowerState values in the stream */
#define STREAM_ACTIVE 0
#define STREAM_IDLE 1

/*
 * Migrate a source with DAC2 enabled (in D3hot if @d3hot) to a file,
 * overwrite the first @len bytes of its virtual PSA subsection with
 * @patch (D-state, functions enabled, state), and load that into a
 * destination with exit-on-error=false: the stream must be refused, the
 * destination's device must be as it was, and query-paiov, a config
 * read and system_reset must work afterwards.
 */
static void migrate_refused(bool d3hot, const uint8_t *patch, size_t len)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;

    fixture_start(&f, NULL);
    dac2_setup(&f);
    dac2_enable(&f, true);
    if (d3hot) {
        pmcsr_write(&f, 3);
        paiov_assert_state(f.qts, "d3hot");
    }
    uri = paiov_migrate_to_file(f.qts, "es1370-paiov");
    dst = paiov_migrate_in_patched_refused(ARGS, uri, VPSA, patch, len);
    paiov_assert_alive_after_refusal(dst, PAIOV_DEVFN, 0x50001274);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

/*
 * Guards a stream with an out-of-range state (99): refused, and nothing
 * of it stays in the device (it did: query-paiov and system_reset then
 * aborted in qapi_enum_lookup).
 */
static void test_migrate_bad_state(void)
{
    static const uint8_t patch[] = { 3, 1, 0, 0, 0, 99 };

    migrate_refused(true, patch, sizeof(patch));
}

/*
 * Guards the cross-check with PMCSR: a stream whose virtual PSA says D0,
 * active, for a device whose migrated PMCSR says D3hot, is refused.
 */
static void test_migrate_pmcsr_mismatch(void)
{
    static const uint8_t patch[] = { 0, 1, 0, 0, 0, STREAM_ACTIVE };

    migrate_refused(true, patch, sizeof(patch));
}

/*
 * Guards the cross-check with CTRL: a stream whose virtual PSA says all
 * channels disabled (idle) for a device whose migrated CTRL register
 * enables DAC2, is refused.
 */
static void test_migrate_ctrl_mismatch(void)
{
    static const uint8_t patch[] = { 0, 0, 0, 0, 0, STREAM_IDLE };

    migrate_refused(false, patch, sizeof(patch));
}

/*
 * Guards a failed hot-plug: device_add with a host device that does not
 * exist, or a PMA that does not exist, fails naming it and leaves
 * nothing on the bus (it left a zombie function: listed by query-pci,
 * its slot taken, and the next guest config read of the slot crashed
 * QEMU in pci_bridge_get_device); a good device then plugs into the
 * same slot.
 */
static void test_hotplug_fails(void)
{
    QTestState *qts = qtest_init("-M pc -audiodev none,id=snd0 "
                                 "-object paiov-pma,id=pma0");
    int devfn = QPCI_DEVFN(6, 0);

    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'es1370-paiov', 'id': 'bad1',"
                           " 'audiodev': 'snd0', 'bus': 'pci.0',"
                           " 'addr': '06.0',"
                           " 'host-device': '/nonexistent' }"),
                           "host-device", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'es1370-paiov', 'id': 'bad2',"
                           " 'audiodev': 'snd0', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': 'pma0',"
                           " 'host-device': '/nonexistent' }"),
                           "host-device", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'es1370-paiov', 'id': 'bad3',"
                           " 'audiodev': 'snd0', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': 'nopma' }"),
                           "nopma", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'es1370-paiov', 'id': 'bad4',"
                           " 'audiodev': 'snd0', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': '/machine' }"),
                           "pma", devfn);
    qtest_qmp_device_add(qts, "es1370-paiov", "good",
                         "{ 'audiodev': 'snd0', 'bus': 'pci.0',"
                         " 'addr': '06.0' }");
    g_assert_true(paiov_pci_listed(qts, devfn));
    g_assert_cmphex(paiov_cfg_readl(qts, devfn, 0), ==, 0x50001274);
    qtest_quit(qts);
}

#define PMA_ARGS "-M pc -audiodev none,id=snd0 " \
    "-device es1370-paiov,audiodev=snd0,id=snd,addr=04.0,pma=pma0 " \
    "-object paiov-pma,id=pma0,"

/*
 * Guards the PM QoS hook: the request is held (the host grants 77 us)
 * only while the sound card is active, dropped when the guest stops it.
 */
static void test_pm_qos(void)
{
    Fixture f;
    QDict *info;

    if (access("/dev/cpu_dma_latency", W_OK)) {
        g_test_skip("/dev/cpu_dma_latency not writable (not root)");
        return;
    }
    f.qts = qtest_init(PMA_ARGS "pm-qos-latency-us=77");
    paiov_fixture_attach(&f, PAIOV_DEVFN, 0);
    g_assert_false(paiov_pma_sub_bool(f.qts, "/objects/pma0", "pm-qos",
                                       "held"));
    g_assert_cmpint(paiov_cpu_dma_latency(), !=, 77);
    dac2_setup(&f);
    dac2_enable(&f, true);
    g_assert_true(paiov_pma_sub_bool(f.qts, "/objects/pma0", "pm-qos",
                                       "held"));
    g_assert_cmpint(paiov_cpu_dma_latency(), ==, 77);
    info = paiov_info(f.qts);
    g_assert_true(qdict_get_bool(info, "pm-qos-held"));
    qobject_unref(info);
    dac2_enable(&f, false);
    qtest_clock_step(f.qts, 50 * SCALE_MS);     /* host-debounce-ms */
    g_assert_false(paiov_pma_sub_bool(f.qts, "/objects/pma0", "pm-qos",
                                       "held"));
    g_assert_cmpint(paiov_cpu_dma_latency(), !=, 77);
    dac2_enable(&f, true);
    fixture_stop(&f);
    /* QEMU gone: so is its request */
    g_assert_cmpint(paiov_cpu_dma_latency(), !=, 77);
}

static uint64_t thread_slack(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/timerslack_ns", pid);
    g_autofree char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return g_ascii_strtoull(text, NULL, 10);
}

/*
 * Guards the timer slack hook: raised under powersave while every
 * device is low-power, restored when the card plays or the policy
 * changes.
 */
static void test_timer_slack(void)
{
    Fixture f;
    uint64_t orig;
    QDict *pma;

    f.qts = qtest_init(PMA_ARGS "policy=powersave,timer-slack-ns=12345678");
    paiov_fixture_attach(&f, PAIOV_DEVFN, 0);
    g_assert_cmpuint(thread_slack(qtest_pid(f.qts)), ==, 12345678);
    pma = paiov_info(f.qts);
    g_assert_true(qdict_get_bool(pma, "timer-slack-raised"));
    qobject_unref(pma);
    pma = paiov_pma_info(f.qts, "/objects/pma0");
    g_assert_true(qdict_get_bool(qdict_get_qdict(pma, "timer-slack"),
                                 "raised"));
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(pma, "timer-slack"),
                                  "threads"), >=, 1);
    qobject_unref(pma);

    /* QEMU's own value (its main loop asks for 1 ns) comes back */
    dac2_setup(&f);
    dac2_enable(&f, true);
    orig = thread_slack(qtest_pid(f.qts));
    g_assert_cmpuint(orig, <, 12345678);
    dac2_enable(&f, false);
    qtest_clock_step(f.qts, 50 * SCALE_MS);     /* host-debounce-ms */
    g_assert_cmpuint(thread_slack(qtest_pid(f.qts)), ==, 12345678);
    paiov_qom_set_str(f.qts, "/objects/pma0", "policy", "balanced");
    g_assert_cmpuint(thread_slack(qtest_pid(f.qts)), ==, orig);
    fixture_stop(&f);
}

/*
 * Guards the wakeup accounting against the audio timer's period: with
 * a DAC running, 20 steps of one 10 ms period are 20 audio timer
 * wakeups; with the card idle there are none.
 */
static void test_wakeups(void)
{
    Fixture f;
    int64_t w0, w1;
    int i;

    fixture_start(&f, NULL);
    dac2_setup(&f);
    dac2_enable(&f, true);
    qtest_clock_step(f.qts, 5 * SCALE_MS);
    w0 = paiov_info_int(f.qts, "wakeups");
    for (i = 0; i < 20; i++) {
        qtest_clock_step(f.qts, 10 * SCALE_MS);
    }
    w1 = paiov_info_int(f.qts, "wakeups");
    g_assert_cmpint(w1 - w0, ==, 20);
    g_assert_cmpint(paiov_info_int(f.qts, "handler-ns"), >, 0);

    dac2_enable(&f, false);
    qtest_clock_step(f.qts, 200 * SCALE_MS);  /* buffered samples play */
    w0 = paiov_info_int(f.qts, "wakeups");
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    g_assert_cmpint(paiov_info_int(f.qts, "wakeups"), ==, w0);
    fixture_stop(&f);
}

/* DAC2's current frame (upper half of FRAMECNT, memory page 0xc) */
static uint32_t dac2_position(Fixture *f)
{
    qpci_io_writel(f->dev, f->bar, REG_MEMPAGE, 0xc);
    return qpci_io_readl(f->dev, f->bar, REG_DAC2_FRAMECNT) >> 16;
}

/*
 * Guards passive idle of the sound card: a DAC left running that plays
 * only silence (guest memory is zero) is passive idle after the idle
 * timeout although the driver keeps accessing registers; DMA goes on at
 * the same pace (guest-visible unchanged); the first sound ends it.
 */
static void test_passive_idle(void)
{
    Fixture f;
    uint32_t pos, pos2;
    uint8_t sound[4096];
    QDict *info;

    f.qts = qtest_init(PMA_ARGS "idle-timeout-ms=1000");
    paiov_fixture_attach(&f, PAIOV_DEVFN, 0);
    dac2_setup(&f);
    /* a 64 KiB buffer: the position does not wrap at every period */
    qpci_io_writel(f.dev, f.bar, REG_DAC2_FRAMECNT, 0x3fff);
    dac2_enable(&f, true);
    for (int i = 0; i < 12; i++) {          /* 1.2 s of register reads */
        qtest_clock_step(f.qts, 100 * SCALE_MS);
        dac2_position(&f);
    }
    paiov_assert_state(f.qts, "passive-idle");
    g_assert_cmpint(paiov_info_int(f.qts, "accesses"), >=, 24);

    /* the DAC runs on: the position moves as it did while active */
    pos = dac2_position(&f);
    qtest_clock_step(f.qts, 20 * SCALE_MS);
    pos2 = dac2_position(&f);
    g_assert_cmpuint(pos2, !=, pos);
    g_assert_true(paiov_timer_armed(f.qts));
    paiov_assert_state(f.qts, "passive-idle");

    /* sound in the buffer: active again when it is fetched */
    memset(sound, 0x55, sizeof(sound));
    for (int i = 0; i < 64 * 1024; i += sizeof(sound)) {
        qtest_memwrite(f.qts, 0x100000 + i, sound, sizeof(sound));
    }
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    paiov_assert_state(f.qts, "active");
    info = paiov_info(f.qts);
    g_assert_cmpstr(qdict_get_str(info, "last-reason"), ==, "access");
    qobject_unref(info);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/es1370-paiov/capability", test_capability);
    qtest_add_func("/es1370-paiov/channels", test_channels);
    qtest_add_func("/es1370-paiov/d3hot", test_d3hot);
    qtest_add_func("/es1370-paiov/invalid-pmcsr", test_invalid_pmcsr);
    qtest_add_func("/es1370-paiov/migrate/idle", test_migrate_idle);
    qtest_add_func("/es1370-paiov/migrate/d3hot", test_migrate_d3hot);
    qtest_add_func("/es1370-paiov/migrate/bad-state", test_migrate_bad_state);
    qtest_add_func("/es1370-paiov/migrate/pmcsr-mismatch",
                   test_migrate_pmcsr_mismatch);
    qtest_add_func("/es1370-paiov/migrate/ctrl-mismatch",
                   test_migrate_ctrl_mismatch);
    qtest_add_func("/es1370-paiov/hotplug-fails", test_hotplug_fails);
    qtest_add_func("/es1370-paiov/pm-qos", test_pm_qos);
    qtest_add_func("/es1370-paiov/timer-slack", test_timer_slack);
    qtest_add_func("/es1370-paiov/wakeups", test_wakeups);
    qtest_add_func("/es1370-paiov/passive-idle", test_passive_idle);
    return g_test_run();
}
