/*
 * QTest for e1000-paiov: the virtual PSA of the power-aware 82540EM
 *
 * Receive/transmit enable through RCTL/TCTL, link changes through
 * set_link, D3hot/D0 through PMCSR, and the device timers (an
 * auto-negotiation started while idle waits until the device is active),
 * all under qtest's virtual clock.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_regs.h"
#include "qemu/timer.h"
#include "paiov-qtest.h"

#define DEVFN QPCI_DEVFN(4, 0)
#define PM_CAP 0xdc

#define REG_STATUS 0x08
#define STATUS_LU 0x2
#define REG_MDIC 0x20
#define REG_RCTL 0x100
#define REG_TCTL 0x400
#define CTL_EN 0x2
#define MDIC_WRITE_BMCR_RESTART_AN \
    (0x04000000 | (1 << 21) | (0 << 16) | 0x1000 | 0x0200)

typedef PaiovFixture Fixture;

static void fixture_start(Fixture *f)
{
    f->qts = qtest_init("-M pc -netdev user,id=n0 "
                        "-device e1000-paiov,netdev=n0,id=nic0,addr=04.0");
    paiov_fixture_attach(f, DEVFN, 0);
}

#define fixture_stop paiov_fixture_stop

#define assert_state(qts, state, timer) do {                            \
        QDict *_info = paiov_info(qts);                                 \
                                                                        \
        g_assert_cmpstr(qdict_get_str(_info, "state"), ==, (state));    \
        g_assert_cmpint(qdict_get_bool(_info, "timer-armed"), ==, (timer)); \
        qobject_unref(_info);                                           \
    } while (0)

/* Guards the capability: same IDs as e1000, D0/D3hot only, at 0xdc */
static void test_capability(void)
{
    Fixture f;

    fixture_start(&f);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x100e);
    g_assert_cmphex(qpci_find_capability(f.dev, PCI_CAP_ID_PM, 0), ==,
                    PM_CAP);
    g_assert_false(qpci_config_readw(f.dev, PM_CAP + PCI_PM_PMC) &
                   (PCI_PM_CAP_D1 | PCI_PM_CAP_D2));
    fixture_stop(&f);
}

/*
 * Guards the idle detection and the timers: an auto-negotiation the guest
 * starts while receive and transmit are off is parked, and runs once the
 * device is active.
 */
static void test_rx_tx(void)
{
    Fixture f;

    fixture_start(&f);
    assert_state(f.qts, "idle", false);
    qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
    assert_state(f.qts, "idle", false);
    g_assert_false(qpci_io_readl(f.dev, f.bar, REG_STATUS) & STATUS_LU);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    g_assert_false(qpci_io_readl(f.dev, f.bar, REG_STATUS) & STATUS_LU);

    /* the parked auto-negotiation is due as soon as the device is active */
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, SCALE_MS);
    g_assert_true(qpci_io_readl(f.dev, f.bar, REG_STATUS) & STATUS_LU);
    /* RCTL writes arm the 1 s receive flush timer of e1000: let it run */
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    assert_state(f.qts, "active", false);

    qpci_io_writel(f.dev, f.bar, REG_RCTL, 0);
    qpci_io_writel(f.dev, f.bar, REG_TCTL, CTL_EN);
    assert_state(f.qts, "active", false);
    qpci_io_writel(f.dev, f.bar, REG_TCTL, 0);
    assert_state(f.qts, "idle", false);
    fixture_stop(&f);
}

/* Guards link down from the monitor: idle, and back on link up */
static void test_set_link(void)
{
    Fixture f;

    fixture_start(&f);
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    assert_state(f.qts, "active", false);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'set_link', 'arguments':"
                             " { 'name': 'nic0', 'up': false } }");
    assert_state(f.qts, "idle", false);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'set_link', 'arguments':"
                             " { 'name': 'nic0', 'up': true } }");
    assert_state(f.qts, "active", true);    /* auto-negotiation restarted */
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    assert_state(f.qts, "active", false);
    fixture_stop(&f);
}

/* Guards D3hot: state, timers parked, back to active on D0 */
static void test_d3hot(void)
{
    Fixture f;

    fixture_start(&f);
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
    assert_state(f.qts, "active", true);    /* auto-negotiation running */
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    assert_state(f.qts, "d3hot", false);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);   /* parked: link stays down */
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 0);
    g_assert_false(qpci_io_readl(f.dev, f.bar, REG_RCTL) & ~CTL_EN);
    qtest_clock_step(f.qts, SCALE_MS);      /* parked autoneg, due now */
    g_assert_true(qpci_io_readl(f.dev, f.bar, REG_STATUS) & STATUS_LU);
    assert_state(f.qts, "active", false);
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_RCTL), ==, CTL_EN);
    fixture_stop(&f);
}

/*
 * Guards migration in D3hot with a parked auto-negotiation: the
 * destination is in D3hot with no timer armed, and on D0 the parked
 * auto-negotiation runs there.
 */
static void test_migrate_d3hot(void)
{
    Fixture f, d;
    g_autofree char *uri = NULL;

    fixture_start(&f);
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    assert_state(f.qts, "d3hot", false);
    uri = paiov_migrate_to_file(f.qts, "e1000-paiov");

    d.qts = qtest_initf("-M pc -netdev user,id=n0 "
                        "-device e1000-paiov,netdev=n0,id=nic0,addr=04.0 "
                        "-incoming %s", uri);
    paiov_wait_running(d.qts);
    assert_state(d.qts, "d3hot", false);
    qtest_clock_step(d.qts, 1000 * SCALE_MS);
    d.bus = qpci_new_pc(d.qts, NULL);
    d.dev = qpci_device_find(d.bus, DEVFN);
    d.bar = f.bar;      /* the BAR address migrated with config space */
    qpci_config_writew(d.dev, PM_CAP + PCI_PM_CTRL, 0);
    qtest_clock_step(d.qts, SCALE_MS);
    g_assert_true(qpci_io_readl(d.dev, d.bar, REG_STATUS) & STATUS_LU);
    assert_state(d.qts, "active", false);

    fixture_stop(&d);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

#define PMA "/objects/pma0"

static void fixture_start_pma(Fixture *f, const char *tree,
                              const char *pma_props)
{
    f->qts = qtest_initf("-M pc -netdev user,id=n0 "
                         "-object paiov-pma,id=pma0,sysfs-root=%s/sys,"
                         "runtime-dir=%s/run%s "
                         "-device e1000-paiov,netdev=n0,id=nic0,addr=04.0,"
                         "pma=pma0,host-device=" PAIOV_TREE_LINK,
                         tree, tree, pma_props);
    paiov_fixture_attach(f, DEVFN, 0);
}

/* Active with receive on; the flush timer of the RCTL write has run */
static void rx_on(Fixture *f)
{
    qpci_io_writel(f->dev, f->bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f->qts, 1000 * SCALE_MS);
}

/*
 * Guards passive idle: the guest never touches PM, the device is left
 * active; after the idle timeout without an access it is passive idle
 * (the host device may autosuspend), guest-visible state unchanged;
 * the next register access is served correctly and ends it.
 */
static void test_passive_idle(void)
{
    g_autofree char *tree = paiov_sysfs_tree();
    g_autofree char *control = NULL;
    Fixture f;
    int64_t accesses;

    fixture_start_pma(&f, tree, ",idle-timeout-ms=2000");
    rx_on(&f);
    assert_state(f.qts, "active", false);
    g_assert_cmpint(paiov_info_int(f.qts, "idle-timeout-ms"), ==, 2000);
    control = paiov_sysfs_control(tree);
    g_assert_cmpstr(control, ==, "on");
    g_free(control);

    /* accesses keep it active: one every 1.5 s for 7.5 s */
    for (int i = 0; i < 5; i++) {
        qtest_clock_step(f.qts, 1500 * SCALE_MS);
        qpci_io_readl(f.dev, f.bar, REG_STATUS);
    }
    assert_state(f.qts, "active", false);

    /* quiet for a timeout and a check period: passive idle */
    qtest_clock_step(f.qts, 1900 * SCALE_MS);
    assert_state(f.qts, "active", false);
    qtest_clock_step(f.qts, 600 * SCALE_MS);
    assert_state(f.qts, "passive-idle", false);
    qtest_clock_step(f.qts, 50 * SCALE_MS);     /* host-debounce-ms */
    control = paiov_sysfs_control(tree);
    g_assert_cmpstr(control, ==, "auto");
    g_free(control);

    /* guest-visible state unchanged; the access wakes it first */
    accesses = paiov_info_int(f.qts, "accesses");
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_RCTL), ==, CTL_EN);
    assert_state(f.qts, "active", false);
    g_assert_cmpint(paiov_info_int(f.qts, "accesses"), ==, accesses + 1);
    control = paiov_sysfs_control(tree);
    g_assert_cmpstr(control, ==, "on");
    fixture_stop(&f);
    paiov_sysfs_tree_remove(tree);
}

/* Guards the policies: applied at once to the PMA's devices */
static void test_policy(void)
{
    g_autofree char *tree = paiov_sysfs_tree();
    g_autofree char *control = NULL;
    QDict *pma;
    Fixture f;

    fixture_start_pma(&f, tree, ",idle-timeout-ms=2000");
    rx_on(&f);
    qtest_clock_step(f.qts, 1500 * SCALE_MS);
    assert_state(f.qts, "passive-idle", false);

    /* performance: back to active, no passive idle, host device on */
    paiov_qom_set_str(f.qts, PMA, "policy", "performance");
    assert_state(f.qts, "active", false);
    g_assert_cmpint(paiov_info_int(f.qts, "idle-timeout-ms"), ==, 0);
    qtest_clock_step(f.qts, 5 * NANOSECONDS_PER_SECOND);
    assert_state(f.qts, "active", false);
    /* ... even for a device the guest turned off */
    qpci_io_writel(f.dev, f.bar, REG_RCTL, 0);
    assert_state(f.qts, "idle", false);
    control = paiov_sysfs_control(tree);
    g_assert_cmpstr(control, ==, "on");
    g_free(control);
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);

    /* powersave: a quarter of the timeout */
    paiov_qom_set_str(f.qts, PMA, "policy", "powersave");
    pma = paiov_pma_info(f.qts, PMA);
    g_assert_cmpstr(qdict_get_str(pma, "policy"), ==, "powersave");
    g_assert_cmpint(qdict_get_int(pma, "idle-timeout-ms"), ==, 500);
    qobject_unref(pma);
    qtest_clock_step(f.qts, 400 * SCALE_MS);
    assert_state(f.qts, "active", false);
    qtest_clock_step(f.qts, 250 * SCALE_MS);
    assert_state(f.qts, "passive-idle", false);
    control = paiov_sysfs_control(tree);
    g_assert_cmpstr(control, ==, "auto");

    /* a bad value is refused with the property's name, nothing changes */
    qobject_unref(qtest_qmp_assert_failure_ref(f.qts,
                  "{ 'execute': 'qom-set', 'arguments': { 'path': '" PMA "',"
                  " 'property': 'policy', 'value': 'eco' } }"));
    pma = paiov_pma_info(f.qts, PMA);
    g_assert_cmpstr(qdict_get_str(pma, "policy"), ==, "powersave");
    qobject_unref(pma);
    fixture_stop(&f);
    paiov_sysfs_tree_remove(tree);
}

/*
 * Guards the accounting against counts the test makes itself: every
 * register access the test does is one access; every auto-negotiation
 * it starts is one timer wakeup; an auto-negotiation parked in D3hot is
 * one wakeup avoided.
 */
static void test_accounting(void)
{
    Fixture f;
    QDict *info;
    int64_t accesses, wakeups;
    int i;

    fixture_start(&f);
    rx_on(&f);                      /* 1 access, 1 flush timer wakeup */
    info = paiov_info(f.qts);
    accesses = qdict_get_int(info, "accesses");
    wakeups = qdict_get_int(info, "wakeups");
    g_assert_cmpint(accesses, ==, 1);
    g_assert_cmpint(wakeups, ==, 1);
    g_assert_cmpint(qdict_get_int(info, "wakeups-avoided"), ==, 0);
    g_assert_true(qdict_get_bool(info, "low-latency"));
    qobject_unref(info);

    for (i = 0; i < 7; i++) {
        qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
        qtest_clock_step(f.qts, 1000 * SCALE_MS);
        qpci_io_readl(f.dev, f.bar, REG_STATUS);
    }
    info = paiov_info(f.qts);
    g_assert_cmpint(qdict_get_int(info, "accesses"), ==, accesses + 14);
    g_assert_cmpint(qdict_get_int(info, "wakeups"), ==, wakeups + 7);
    g_assert_cmpint(qdict_get_int(info, "handler-ns"), >, 0);
    qobject_unref(info);

    qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    info = paiov_info(f.qts);
    g_assert_cmpint(qdict_get_int(info, "wakeups"), ==, wakeups + 7);
    g_assert_cmpint(qdict_get_int(info, "wakeups-avoided"), ==, 1);
    g_assert_false(qdict_get_bool(info, "low-latency"));
    qobject_unref(info);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/e1000-paiov/capability", test_capability);
    qtest_add_func("/e1000-paiov/rx-tx", test_rx_tx);
    qtest_add_func("/e1000-paiov/set-link", test_set_link);
    qtest_add_func("/e1000-paiov/d3hot", test_d3hot);
    qtest_add_func("/e1000-paiov/migrate/d3hot", test_migrate_d3hot);
    qtest_add_func("/e1000-paiov/passive-idle", test_passive_idle);
    qtest_add_func("/e1000-paiov/policy", test_policy);
    qtest_add_func("/e1000-paiov/accounting", test_accounting);
    return g_test_run();
}
