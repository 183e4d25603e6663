/*
 * QTest for intel-hda-paiov: the virtual PSA of the power-aware Intel HDA
 * controller and the power states of its codecs
 *
 * Everything runs under qtest's virtual clock: codec verbs through the
 * immediate command interface (ICW/IRR/ICS) as a driver without a CORB
 * sends them, stream RUN bits, D3hot/D0 through PMCSR, guest errors and
 * migration of the power state.
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
#define PM_CAP 0x50
#define MSI_CAP 0x60

#define REG_GCTL 0x08
#define REG_ICW 0x60
#define REG_IRR 0x64
#define REG_ICS 0x68
#define ICS_BUSY 0x1
#define ICS_VALID 0x2
#define REG_OSD0_CTL 0x100          /* first output stream descriptor */
#define SD_CTL_RUN 0x02

#define NID_ROOT 0
#define NID_AFG 1
#define NID_DAC 2                   /* hda-duplex: the line-out converter */
#define NID_NONE 0x1f

#define VERB_GET_POWER 0xf05
#define VERB_SET_POWER 0x705
#define VERB_SET_STREAMID 0x706

#define ARGS "-M pc -audiodev none,id=snd0 " \
    "-device ich9-intel-hda-paiov,id=hda,addr=04.0 " \
    "-device hda-duplex-paiov,audiodev=snd0,bus=hda.0 "

typedef PaiovFixture Fixture;

static const PaiovFixtureOpts opts = {
    .args = ARGS, .name = "hda-paiov", .devfn = PAIOV_DEVFN, .barno = 0,
};

/* Start QEMU (@log: with a guest error log) and take the link out of reset */
static void fixture_start_log(Fixture *f, const char *extra, bool log)
{
    paiov_fixture_start(f, &opts, extra, log);
    qpci_io_writel(f->dev, f->bar, REG_GCTL, 1);
}

static void fixture_start(Fixture *f, const char *extra)
{
    fixture_start_log(f, extra, false);
}

#define fixture_stop paiov_fixture_stop

static char *paiov_str(QTestState *qts, const char *key)
{
    QDict *info = paiov_info(qts);
    char *s = g_strdup(qdict_get_str(info, key));

    qobject_unref(info);
    return s;
}

static char *paiov_audio_action(QTestState *qts)
{
    QDict *info = paiov_info(qts);
    QList *actions = qdict_get_qlist(info, "host-actions");
    QDict *audio = qobject_to(QDict, qlist_peek(actions));
    char *action = g_strdup(qdict_get_str(audio, "action"));

    qobject_unref(info);
    return action;
}

#define assert_state(qts, expected) do {                    \
        g_autofree char *_s = paiov_str(qts, "state");      \
        g_assert_cmpstr(_s, ==, (expected));                \
    } while (0)

/* A verb to codec 0 through the immediate command interface */
static uint32_t verb_on(QPCIDevice *dev, QPCIBar bar, uint32_t nid,
                        uint32_t verb, uint32_t payload)
{
    qpci_io_writel(dev, bar, REG_ICW, nid << 20 | verb << 8 | payload);
    qpci_io_writew(dev, bar, REG_ICS, ICS_BUSY);
    g_assert_cmphex(qpci_io_readw(dev, bar, REG_ICS) & 3, ==, ICS_VALID);
    qpci_io_writew(dev, bar, REG_ICS, ICS_VALID);
    return qpci_io_readl(dev, bar, REG_IRR);
}

static uint32_t verb(Fixture *f, uint32_t nid, uint32_t v, uint32_t payload)
{
    return verb_on(f->dev, f->bar, nid, v, payload);
}

static void stream_run(Fixture *f, bool run)
{
    /* stream number 1 in bits 23:20 */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL,
                   1 << 20 | (run ? SD_CTL_RUN : 0));
}

static void pmcsr_write(Fixture *f, uint16_t val)
{
    qpci_config_writew(f->dev, PM_CAP + PCI_PM_CTRL, val);
}

/*
 * Guards the capability layout: the ich9 IDs, D0/D3hot at the ICH's
 * offset 0x50, MSI where stock puts it; a stock controller beside it
 * keeps its IDs and has no PM capability.
 */
static void test_capability(void)
{
    Fixture f;
    QPCIDevice *stock;
    uint16_t pmc;

    fixture_start(&f, "-device ich9-intel-hda,addr=05.0");
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x293e);
    g_assert_true(qpci_config_readw(f.dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
    g_assert_cmphex(qpci_config_readb(f.dev, PM_CAP), ==, PCI_CAP_ID_PM);
    pmc = qpci_config_readw(f.dev, PM_CAP + PCI_PM_PMC);
    g_assert_cmphex(pmc & (PCI_PM_CAP_D1 | PCI_PM_CAP_D2 |
                           PCI_PM_CAP_PME_MASK), ==, 0);
    g_assert_cmphex(qpci_config_readb(f.dev, MSI_CAP), ==, PCI_CAP_ID_MSI);

    stock = qpci_device_find(f.bus, STOCK_DEVFN);
    g_assert_nonnull(stock);
    g_assert_cmphex(qpci_config_readw(stock, PCI_DEVICE_ID), ==, 0x293e);
    g_assert_cmphex(qpci_config_readb(stock, PM_CAP), !=, PCI_CAP_ID_PM);
    g_free(stock);
    assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/*
 * Guards the codec power states: every SET_POWER_STATE D0..D3 on the
 * function group and on a widget is answered by GET_POWER_STATE with
 * PS-Set and PS-Act (a widget is never more awake than its function
 * group).  Stock hda-duplex answered 0 (D0) to everything.
 */
static void test_power_verbs(void)
{
    Fixture f;
    uint32_t afg, w;

    fixture_start(&f, NULL);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    for (afg = 0; afg <= 3; afg++) {
        g_assert_cmphex(verb(&f, NID_AFG, VERB_SET_POWER, afg), ==, 0);
        g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==,
                        afg | afg << 4);
        for (w = 0; w <= 3; w++) {
            verb(&f, NID_DAC, VERB_SET_POWER, w);
            g_assert_cmphex(verb(&f, NID_DAC, VERB_GET_POWER, 0), ==,
                            w | MAX(w, afg) << 4);
        }
    }
    fixture_stop(&f);
}

/*
 * Guards against guest misuse: D3cold (not supported), reserved states
 * and reserved payload bits, the root node and a node the codec does not
 * have are logged as guest errors and change nothing; the link goes on.
 */
static void test_power_verbs_invalid(void)
{
    Fixture f;
    g_autofree char *log = NULL;
    uint32_t ps;

    fixture_start_log(&f, NULL, true);

    verb(&f, NID_AFG, VERB_SET_POWER, 2);
    for (ps = 4; ps <= 0xf; ps++) {
        g_assert_cmphex(verb(&f, NID_AFG, VERB_SET_POWER, ps), ==, 0);
        g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x22);
    }
    verb(&f, NID_AFG, VERB_SET_POWER, 0x13);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x22);
    g_assert_cmphex(verb(&f, NID_NONE, VERB_SET_POWER, 3), ==, 0);
    g_assert_cmphex(verb(&f, NID_NONE, VERB_GET_POWER, 0), ==, 0);
    g_assert_cmphex(verb(&f, NID_ROOT, VERB_SET_POWER, 3), ==, 0);
    g_assert_cmphex(verb(&f, NID_ROOT, VERB_GET_POWER, 0), ==, 0);
    /* and the codec still works */
    verb(&f, NID_AFG, VERB_SET_POWER, 0);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    log = fixture_stop(&f);

    g_assert_nonnull(strstr(log, "node 1: power state 0x4 is reserved"));
    g_assert_nonnull(strstr(log, "node 1: power state 0xf is reserved"));
    g_assert_nonnull(strstr(log, "node 1: power state 0x13 is reserved"));
    g_assert_nonnull(strstr(log, "node 31, which has no power state"));
    g_assert_nonnull(strstr(log, "node 0, which has no power state"));
}

/*
 * Guards the state from the RUN bits and the function group: active
 * while a stream runs and the codec is in D0, idle when the stream
 * stops or the function group goes to D3 (the corks follow).
 */
static void test_run(void)
{
    Fixture f;
    g_autofree char *a1 = NULL, *a2 = NULL, *a3 = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    assert_state(f.qts, "active");
    a1 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a1, ==, "run");
    stream_run(&f, false);
    assert_state(f.qts, "idle");
    /* toward less power: after the PMA's debounce */
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a2 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a2, ==, "cork");

    stream_run(&f, true);
    assert_state(f.qts, "active");
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    assert_state(f.qts, "idle");
    verb(&f, NID_AFG, VERB_SET_POWER, 0);
    assert_state(f.qts, "active");
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    stream_run(&f, false);
    stream_run(&f, true);
    assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a3 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a3, ==, "cork");

    /* a controller reset (GCTL.CRST) wakes the codec: D0, idle */
    qpci_io_writel(f.dev, f.bar, REG_GCTL, 0);
    qpci_io_writel(f.dev, f.bar, REG_GCTL, 1);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/* Guards D3hot of the controller: release, and back to D0 */
static void test_d3hot(void)
{
    Fixture f;
    g_autofree char *a1 = NULL, *a2 = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    assert_state(f.qts, "active");
    pmcsr_write(&f, 3);
    assert_state(f.qts, "d3hot");
    g_assert_cmphex(qpci_config_readw(f.dev, PM_CAP + PCI_PM_CTRL) & 3, ==,
                    3);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a1 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a1, ==, "release");
    pmcsr_write(&f, 0);
    assert_state(f.qts, "active");
    a2 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a2, ==, "run");

    pmcsr_write(&f, 3);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(f.qts, "RESET");
    assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/*
 * Guards passive idle on silence: an output stream left running on
 * zeroes goes passive-idle after the PMA's idle timeout (its register
 * accesses are no sign of use), and the first non-zero sample fetched by
 * DMA wakes it.
 */
static void test_passive_idle(void)
{
    Fixture f;
    uint64_t bdl = 0x100000, buf = 0x200000;
    uint8_t tone[256];
    int i;

    fixture_start(&f, "-object paiov-pma,id=pma0,idle-timeout-ms=200 "
                  "-global ich9-intel-hda-paiov.pma=pma0");
    /* one BDL entry: 4 KiB of zeroes at buf */
    qtest_writeq(f.qts, bdl, buf);
    qtest_writel(f.qts, bdl + 8, 0x1000);
    qtest_writel(f.qts, bdl + 12, 0);
    qpci_io_writel(f.dev, f.bar, REG_OSD0_CTL + 0x08, 0x1000);  /* CBL */
    qpci_io_writew(f.dev, f.bar, REG_OSD0_CTL + 0x0c, 0);       /* LVI */
    qpci_io_writel(f.dev, f.bar, REG_OSD0_CTL + 0x18, bdl);     /* BDPL */
    qpci_io_writel(f.dev, f.bar, REG_OSD0_CTL + 0x1c, 0);       /* BDPU */
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    assert_state(f.qts, "active");
    for (i = 0; i < 10; i++) {
        qtest_clock_step(f.qts, 100 * SCALE_MS);
    }
    assert_state(f.qts, "passive-idle");

    for (i = 0; i < sizeof(tone); i++) {
        tone[i] = i * 7 + 1;
    }
    for (i = 0; i < 0x1000; i += sizeof(tone)) {
        qtest_memwrite(f.qts, buf + i, tone, sizeof(tone));
    }
    qtest_clock_step(f.qts, 20 * SCALE_MS);
    assert_state(f.qts, "active");
    fixture_stop(&f);
}

enum {
    MIG_IDLE,
    MIG_ACTIVE,
    MIG_AFG_D3,
    MIG_D3HOT,
};

/*
 * Guards migration of the power state: the destination ends up in the
 * source's state (codec power states included) and re-applies the host
 * action itself.
 */
static void migrate_in_state(int which)
{
    static const char *const states[] = {
        "idle", "active", "idle", "d3hot"
    };
    static const char *const actions[] = {
        "cork", "run", "cork", "release"
    };
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;
    g_autofree char *action = NULL;
    QPCIBus *dst_bus;
    QPCIDevice *dst_dev;
    QPCIBar bar;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    verb(&f, NID_DAC, VERB_SET_POWER, 2);
    if (which != MIG_IDLE) {
        stream_run(&f, true);
    }
    if (which == MIG_AFG_D3) {
        verb(&f, NID_AFG, VERB_SET_POWER, 3);
    }
    if (which == MIG_D3HOT) {
        pmcsr_write(&f, 3);
    }
    assert_state(f.qts, states[which]);
    uri = paiov_migrate_to_file(f.qts, "intel-hda-paiov");

    dst = qtest_initf(ARGS "-incoming %s", uri);
    paiov_wait_running(dst);
    assert_state(dst, states[which]);
    action = paiov_audio_action(dst);
    g_assert_cmpstr(action, ==, actions[which]);

    dst_bus = qpci_new_pc(dst, NULL);
    dst_dev = qpci_device_find(dst_bus, PAIOV_DEVFN);
    bar = f.bar;
    qpci_config_writew(dst_dev, PM_CAP + PCI_PM_CTRL, 0);
    g_assert_cmphex(verb_on(dst_dev, bar, NID_AFG, VERB_GET_POWER, 0), ==,
                    which == MIG_AFG_D3 ? 0x33 : 0x00);
    g_assert_cmphex(verb_on(dst_dev, bar, NID_DAC, VERB_GET_POWER, 0), ==,
                    which == MIG_AFG_D3 ? 0x32 : 0x22);
    g_free(dst_dev);
    qpci_free_pc(dst_bus);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_idle(void)
{
    migrate_in_state(MIG_IDLE);
}

static void test_migrate_active(void)
{
    migrate_in_state(MIG_ACTIVE);
}

static void test_migrate_afg_d3(void)
{
    migrate_in_state(MIG_AFG_D3);
}

static void test_migrate_d3hot(void)
{
    migrate_in_state(MIG_D3HOT);
}

/*
 * Guards the cross-checks: a stream whose codec says its function group
 * is in D0 while the controller's record says it sleeps, or that claims
 * a power state above D3, is refused; the destination goes on.
 */
static void migrate_refused(const char *subsection, size_t off,
                            uint8_t byte)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    uri = paiov_migrate_to_file(f.qts, "intel-hda-paiov");
    paiov_stream_patch(uri, subsection, off, &byte, 1);
    dst = qtest_initf(ARGS "-incoming defer");
    paiov_migrate_in_refused(dst, uri);
    paiov_assert_alive_after_refusal(dst, PAIOV_DEVFN, 0x293e8086);
    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_afg_mismatch(void)
{
    migrate_refused("paiov-hda-audio/power", NID_AFG, 0);
}

static void test_migrate_bad_power(void)
{
    migrate_refused("paiov-hda-audio/power", NID_AFG, 7);
}

/*
 * Guards a failed hot-plug: device_add with a host device or a PMA that
 * does not exist fails naming it and leaves nothing on the bus; a good
 * controller then plugs into the same slot.
 */
static void test_hotplug_fails(void)
{
    QTestState *qts = qtest_init("-M pc -audiodev none,id=snd0 "
                                 "-object paiov-pma,id=pma0");
    int devfn = QPCI_DEVFN(6, 0);

    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'ich9-intel-hda-paiov',"
                           " 'id': 'bad1', 'bus': 'pci.0',"
                           " 'addr': '06.0',"
                           " 'host-device': '/nonexistent' }"),
                           "host-device", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'intel-hda-paiov',"
                           " 'id': 'bad2', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': 'nopma' }"),
                           "nopma", devfn);
    qtest_qmp_device_add(qts, "intel-hda-paiov", "good",
                         "{ 'bus': 'pci.0', 'addr': '06.0' }");
    g_assert_true(paiov_pci_listed(qts, devfn));
    g_assert_cmphex(paiov_cfg_readl(qts, devfn, 0), ==, 0x26688086);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/intel-hda-paiov/capability", test_capability);
    qtest_add_func("/intel-hda-paiov/power-verbs", test_power_verbs);
    qtest_add_func("/intel-hda-paiov/power-verbs-invalid",
                   test_power_verbs_invalid);
    qtest_add_func("/intel-hda-paiov/run", test_run);
    qtest_add_func("/intel-hda-paiov/d3hot", test_d3hot);
    qtest_add_func("/intel-hda-paiov/passive-idle", test_passive_idle);
    qtest_add_func("/intel-hda-paiov/migrate/idle", test_migrate_idle);
    qtest_add_func("/intel-hda-paiov/migrate/active", test_migrate_active);
    qtest_add_func("/intel-hda-paiov/migrate/afg-d3", test_migrate_afg_d3);
    qtest_add_func("/intel-hda-paiov/migrate/d3hot", test_migrate_d3hot);
    qtest_add_func("/intel-hda-paiov/migrate/afg-mismatch",
                   test_migrate_afg_mismatch);
    qtest_add_func("/intel-hda-paiov/migrate/bad-power",
                   test_migrate_bad_power);
    qtest_add_func("/intel-hda-paiov/hotplug-fails", test_hotplug_fails);

    return g_test_run();
}
