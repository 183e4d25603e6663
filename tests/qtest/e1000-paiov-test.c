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
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define CTL_EN 0x2
#define RCTL_UPE 0x8
#define RCTL_MPE 0x10
#define RCTL_BAM 0x8000
#define RXD_STAT_DD 0x1
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
    Fixture f, d = { 0 };
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

#define VPSA "paiov-e1000/vpsa"
#define ARGS "-M pc -netdev user,id=n0 " \
    "-device e1000-paiov,netdev=n0,id=nic0,addr=04.0 "

/* PaiovPowerState values in the stream */
#define STREAM_ACTIVE 0
#define STREAM_IDLE 1
#define STREAM_D3HOT 2

typedef enum {
    SRC_ACTIVE,             /* receive on */
    SRC_D3HOT,              /* receive on, then D3hot */
    SRC_LINK_DOWN_D3HOT,    /* receive on, link down, then D3hot */
} SourceSetup;

/*
 * Migrate a source set up as @setup to a file, overwrite the first @len
 * bytes of its virtual PSA subsection with @patch (D-state, functions
 * enabled, state), and load that into a destination with
 * exit-on-error=false: the stream must be refused, the destination's
 * device must be as it was, and query-paiov, a config read and
 * system_reset must work afterwards.
 */
static void migrate_refused(SourceSetup setup, const uint8_t *patch,
                            size_t len)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;

    fixture_start(&f);
    qpci_io_writel(f.dev, f.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    if (setup == SRC_LINK_DOWN_D3HOT) {
        qtest_qmp_assert_success(f.qts, "{ 'execute': 'set_link',"
                                 " 'arguments': { 'name': 'nic0',"
                                 " 'up': false } }");
        assert_state(f.qts, "idle", false);
    }
    if (setup != SRC_ACTIVE) {
        qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
        assert_state(f.qts, "d3hot", false);
    }
    uri = paiov_migrate_to_file(f.qts, "e1000-paiov");
    dst = paiov_migrate_in_patched_refused(ARGS, uri, VPSA, patch, len);
    /* e1000's post_load armed its timers: parked, the device is idle */
    assert_state(dst, "idle", false);
    paiov_assert_alive_after_refusal(dst, DEVFN, 0x100e8086);
    assert_state(dst, "idle", false);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

/*
 * Guards a stream with an out-of-range state (PAIOV_POWER_STATE__MAX):
 * refused, and nothing of it stays in the device (it did: query-paiov
 * and system_reset then aborted in qapi_enum_lookup).
 */
static void test_migrate_bad_state(void)
{
    static const uint8_t patch[] = { 3, 1, 0, 0, 0, 4 };

    migrate_refused(SRC_D3HOT, patch, sizeof(patch));
}

/*
 * Guards the cross-check with PMCSR: a stream whose virtual PSA says D0,
 * active, for a device whose migrated PMCSR says D3hot, is refused.
 */
static void test_migrate_pmcsr_mismatch(void)
{
    static const uint8_t patch[] = { 0, 1, 0, 0, 0, STREAM_ACTIVE };

    migrate_refused(SRC_D3HOT, patch, sizeof(patch));
}

/*
 * Guards the cross-check with RCTL/TCTL: a stream whose virtual PSA says
 * receive and transmit off (idle) for a device whose migrated RCTL has
 * receive enabled, is refused.
 */
static void test_migrate_rctl_mismatch(void)
{
    static const uint8_t patch[] = { 0, 0, 0, 0, 0, STREAM_IDLE };

    migrate_refused(SRC_ACTIVE, patch, sizeof(patch));
}

/*
 * Guards the cross-check with the link: a stream whose virtual PSA says
 * functions enabled for a device with receive enabled but its link down
 * (STATUS.LU clear) is refused.
 */
static void test_migrate_link_mismatch(void)
{
    static const uint8_t patch[] = { 3, 1, 0, 0, 0, STREAM_D3HOT };

    migrate_refused(SRC_LINK_DOWN_D3HOT, patch, sizeof(patch));
}

/*
 * Guards migration of a device in its reset state, where no virtual PSA
 * subsection is sent, with an auto-negotiation parked: e1000's
 * post_load arms its timers (interrupt mitigation, auto-negotiation);
 * the destination is idle like the source and must park them (they
 * ran: timer-armed in idle, and the link came up while idle).
 */
static void test_migrate_idle_timers(void)
{
    Fixture f, d = { 0 };
    g_autofree char *uri = NULL;

    fixture_start(&f);
    qpci_io_writel(f.dev, f.bar, REG_MDIC, MDIC_WRITE_BMCR_RESTART_AN);
    assert_state(f.qts, "idle", false);
    uri = paiov_migrate_to_file(f.qts, "e1000-paiov");

    d.qts = qtest_initf(ARGS "-incoming %s", uri);
    paiov_wait_running(d.qts);
    assert_state(d.qts, "idle", false);
    qtest_clock_step(d.qts, 1000 * SCALE_MS);
    assert_state(d.qts, "idle", false);
    d.bus = qpci_new_pc(d.qts, NULL);
    d.dev = qpci_device_find(d.bus, DEVFN);
    d.bar = f.bar;      /* the BAR address migrated with config space */
    g_assert_false(qpci_io_readl(d.dev, d.bar, REG_STATUS) & STATUS_LU);
    /* active: the parked auto-negotiation is due at once */
    qpci_io_writel(d.dev, d.bar, REG_RCTL, CTL_EN);
    qtest_clock_step(d.qts, SCALE_MS);
    g_assert_true(qpci_io_readl(d.dev, d.bar, REG_STATUS) & STATUS_LU);

    fixture_stop(&d);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

/*
 * Guards a failed hot-plug: device_add with a host device that does not
 * exist, or a PMA that is not one, fails naming the property and leaves
 * nothing on the bus (it left a zombie function: listed by query-pci,
 * its slot taken, and the next guest config read of the slot crashed
 * QEMU); a good device then plugs into the same slot, with the same
 * netdev.
 */
static void test_hotplug_fails(void)
{
    QTestState *qts = qtest_init("-M pc -netdev user,id=n1");
    int devfn = QPCI_DEVFN(6, 0);

    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'e1000-paiov', 'id': 'bad1',"
                           " 'netdev': 'n1', 'bus': 'pci.0',"
                           " 'addr': '06.0',"
                           " 'host-device': '/nonexistent' }"),
                           "host-device", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'e1000-paiov', 'id': 'bad2',"
                           " 'netdev': 'n1', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': '/machine' }"),
                           "pma", devfn);
    qtest_qmp_device_add(qts, "e1000-paiov", "good",
                         "{ 'netdev': 'n1', 'bus': 'pci.0',"
                         " 'addr': '06.0' }");
    g_assert_true(paiov_pci_listed(qts, devfn));
    g_assert_cmphex(paiov_cfg_readl(qts, devfn, 0), ==, 0x100e8086);
    qtest_quit(qts);
}

/* Guest memory of the receive ring: 8 descriptors, 2 KiB buffers */
#define RING 0x100000
#define RING_SIZE 8
#define BUFS 0x110000
#define PKT_LEN 64

static uint8_t rx_desc_status(QTestState *qts, int i)
{
    return qtest_readb(qts, RING + i * 16 + 12);
}

/* A 64-byte broadcast frame filled with @tag, through the socket netdev */
static void send_frame(int fd, uint8_t tag)
{
    uint8_t frame[PKT_LEN];
    uint32_t len = cpu_to_be32(sizeof(frame));
    struct iovec iov[] = {
        { .iov_base = &len, .iov_len = sizeof(len) },
        { .iov_base = frame, .iov_len = sizeof(frame) },
    };

    memset(frame, tag, sizeof(frame));
    memset(frame, 0xff, 6);                         /* broadcast */
    frame[12] = 0x88;                               /* local ethertype */
    frame[13] = 0xb5;
    g_assert_cmpint(writev(fd, iov, 2), ==, sizeof(len) + sizeof(frame));
}

/*
 * Wait for descriptor @i to be written back.  The frame comes from a
 * socket QEMU reads in its main loop: poll, bounded.
 */
static bool rx_arrived(QTestState *qts, int i)
{
    int tries;

    for (tries = 0; tries < 500; tries++) {
        if (rx_desc_status(qts, i) & RXD_STAT_DD) {
            return true;
        }
        g_usleep(10 * 1000);
    }
    return false;
}

/*
 * Guards receive in D3hot: a frame that arrives meanwhile stays queued
 * in the backend, and a PCI COMMAND write (bus master on: e1000 flushes
 * its backend's queue then) must not deliver it: no DMA into guest
 * memory, no descriptor written back, until the guest writes D0.
 */
static void test_d3hot_command_write(void)
{
    Fixture f;
    int sv[2], i;
    uint8_t buf[PKT_LEN];

    g_assert_cmpint(socketpair(PF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    f.qts = qtest_initf("-M pc -netdev socket,fd=%d,id=n0 "
                        "-device e1000-paiov,netdev=n0,id=nic0,addr=04.0",
                        sv[1]);
    close(sv[1]);
    paiov_fixture_attach(&f, DEVFN, 0);

    for (i = 0; i < RING_SIZE; i++) {
        qtest_writeq(f.qts, RING + i * 16, BUFS + i * 2048);
        qtest_writeq(f.qts, RING + i * 16 + 8, 0);
    }
    qtest_memset(f.qts, BUFS, 0, RING_SIZE * 2048);
    qpci_io_writel(f.dev, f.bar, REG_RDBAL, RING);
    qpci_io_writel(f.dev, f.bar, REG_RDBAH, 0);
    qpci_io_writel(f.dev, f.bar, REG_RDLEN, RING_SIZE * 16);
    qpci_io_writel(f.dev, f.bar, REG_RDH, 0);
    qpci_io_writel(f.dev, f.bar, REG_RDT, RING_SIZE - 1);
    qpci_io_writel(f.dev, f.bar, REG_RCTL,
                   CTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);   /* e1000's flush timer */
    g_assert_true(qpci_io_readl(f.dev, f.bar, REG_STATUS) & STATUS_LU);
    assert_state(f.qts, "active", false);

    /* the path works: a frame in D0 lands in descriptor 0 */
    send_frame(sv[0], 0x11);
    g_assert_true(rx_arrived(f.qts, 0));
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_RDH), ==, 1);

    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    assert_state(f.qts, "d3hot", false);
    send_frame(sv[0], 0x22);
    /* round trips: QEMU's main loop reads the socket meanwhile */
    for (i = 0; i < 20; i++) {
        g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    }
    qpci_config_writew(f.dev, PCI_COMMAND, PCI_COMMAND_IO |
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    for (i = 0; i < 20; i++) {
        g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    }
    assert_state(f.qts, "d3hot", false);
    g_assert_cmphex(rx_desc_status(f.qts, 1), ==, 0);
    qtest_memread(f.qts, BUFS + 2048, buf, sizeof(buf));
    g_assert_cmphex(buf[0], ==, 0);
    g_assert_cmphex(buf[PKT_LEN - 1], ==, 0);

    /* D0: the queued frame arrives, in descriptor 1 */
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 0);
    assert_state(f.qts, "active", false);
    g_assert_true(rx_arrived(f.qts, 1));
    qtest_memread(f.qts, BUFS + 2048, buf, sizeof(buf));
    g_assert_cmphex(buf[PKT_LEN - 1], ==, 0x22);
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, REG_RDH), ==, 2);

    fixture_stop(&f);
    close(sv[0]);
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
    qtest_add_func("/e1000-paiov/migrate/idle-timers",
                   test_migrate_idle_timers);
    qtest_add_func("/e1000-paiov/migrate/bad-state", test_migrate_bad_state);
    qtest_add_func("/e1000-paiov/migrate/pmcsr-mismatch",
                   test_migrate_pmcsr_mismatch);
    qtest_add_func("/e1000-paiov/migrate/rctl-mismatch",
                   test_migrate_rctl_mismatch);
    qtest_add_func("/e1000-paiov/migrate/link-mismatch",
                   test_migrate_link_mismatch);
    qtest_add_func("/e1000-paiov/hotplug-fails", test_hotplug_fails);
    qtest_add_func("/e1000-paiov/d3hot-command-write",
                   test_d3hot_command_write);
    qtest_add_func("/e1000-paiov/passive-idle", test_passive_idle);
    qtest_add_func("/e1000-paiov/policy", test_policy);
    qtest_add_func("/e1000-paiov/accounting", test_accounting);
    return g_test_run();
}
