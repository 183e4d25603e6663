/*
 * QTest for virtio-sound-pci-paiov: the virtual PSA of the power-aware
 * virtio sound device
 *
 * The test drives the control queue as a driver does (libqos virtio-pci):
 * PCM_SET_PARAMS, PREPARE, START, STOP, RELEASE on the output stream, and
 * checks the power state, the host action and the audio timer under
 * qtest's virtual clock; requests the stream's state does not allow and
 * stream ids out of range are answered VIRTIO_SND_S_BAD_MSG, logged as
 * guest errors and change nothing; D3hot through PMCSR; a device reset
 * stops the streams; migration stays blocked as for virtio-sound-pci.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_regs.h"
#include "qemu/timer.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_snd.h"
#include "libqos/libqos-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "paiov-qtest.h"

#define PAIOV_DEVFN QPCI_DEVFN(4, 0)
#define STOCK_DEVFN QPCI_DEVFN(5, 0)
#define PM_CAP 0xf8
#define OUT_STREAM 0                /* streams=2: 0 output, 1 input */
#define TIMEOUT_US (5 * 1000 * 1000)

#define ARGS "-M pc -audiodev none,id=snd0 " \
    "-device virtio-sound-pci-paiov,audiodev=snd0,id=snd,addr=04.0 "

typedef struct Fixture {
    PaiovFixture paiov;     /* QEMU through libqos, its guest error log */
    QOSState *qs;           /* paiov's, for short */
    QTestState *qts;
    QVirtioPCIDevice *dev;
    QVirtQueue *ctrl;
} Fixture;

/* libqos finds the device itself (virtio_pci_new()) and maps its BARs */
static const PaiovFixtureOpts opts = {
    .args = ARGS, .name = "virtio-snd-paiov", .devfn = -1, .barno = -1,
    .qos = true,
};

static void fixture_start(Fixture *f, const char *extra)
{
    QPCIAddress addr = { .devfn = PAIOV_DEVFN };
    uint64_t features;

    paiov_fixture_start(&f->paiov, &opts, extra, true);
    f->qs = f->paiov.qs;
    f->qts = f->paiov.qts;
    f->dev = virtio_pci_new(f->paiov.bus, &addr);
    g_assert_nonnull(f->dev);
    g_assert_cmpint(f->dev->vdev.device_type, ==, VIRTIO_ID_SOUND);
    qvirtio_pci_device_enable(f->dev);
    qvirtio_start_device(&f->dev->vdev);
    features = qvirtio_get_features(&f->dev->vdev);
    qvirtio_set_features(&f->dev->vdev,
                         features & (1ull << VIRTIO_F_VERSION_1));
    f->ctrl = qvirtqueue_setup(&f->dev->vdev, &f->qs->alloc,
                               VIRTIO_SND_VQ_CONTROL);
    qvirtio_set_driver_ok(&f->dev->vdev);
}

/* Stop QEMU; returns what it logged as guest errors */
static char *fixture_stop(Fixture *f)
{
    qvirtqueue_cleanup(f->dev->vdev.bus, f->ctrl, &f->qs->alloc);
    /* disables the device and frees the QPCIDevice virtio_pci_new() found */
    qvirtio_pci_destructor(&f->dev->obj);
    g_free(f->dev);
    return paiov_fixture_stop(&f->paiov);
}

/* One control request as a driver sends it; returns the status */
static uint32_t snd_request(Fixture *f, const void *req, size_t len)
{
    QGuestAllocator *alloc = &f->qs->alloc;
    uint64_t out = guest_alloc(alloc, len);
    uint64_t in = guest_alloc(alloc, sizeof(struct virtio_snd_hdr));
    uint32_t head, status;

    qtest_memwrite(f->qts, out, req, len);
    qtest_writel(f->qts, in, 0xffffffff);
    head = qvirtqueue_add(f->qts, f->ctrl, out, len, false, true);
    qvirtqueue_add(f->qts, f->ctrl, in, sizeof(struct virtio_snd_hdr), true,
                   false);
    qvirtqueue_kick(f->qts, &f->dev->vdev, f->ctrl, head);
    qvirtio_wait_used_elem(f->qts, &f->dev->vdev, f->ctrl, head, NULL,
                           TIMEOUT_US);
    status = qtest_readl(f->qts, in);
    guest_free(alloc, out);
    guest_free(alloc, in);
    return status;
}

/* PREPARE, RELEASE, START, STOP of @stream_id */
static uint32_t pcm(Fixture *f, uint32_t code, uint32_t stream_id)
{
    struct virtio_snd_pcm_hdr req = {
        .hdr.code = cpu_to_le32(code),
        .stream_id = cpu_to_le32(stream_id),
    };

    return snd_request(f, &req, sizeof(req));
}

/* SET_PARAMS of @stream_id: 48 kHz, S16, stereo, as Linux asks */
static uint32_t pcm_set_params(Fixture *f, uint32_t stream_id)
{
    struct virtio_snd_pcm_set_params req = {
        .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_SET_PARAMS),
        .hdr.stream_id = cpu_to_le32(stream_id),
        .buffer_bytes = cpu_to_le32(16384),
        .period_bytes = cpu_to_le32(4096),
        .channels = 2,
        .format = VIRTIO_SND_PCM_FMT_S16,
        .rate = VIRTIO_SND_PCM_RATE_48000,
    };

    return snd_request(f, &req, sizeof(req));
}

#define assert_action(qts, expected) do {               \
        g_autofree char *_a = paiov_audio_action(qts);  \
        g_assert_cmpstr(_a, ==, (expected));            \
    } while (0)

static void pmcsr_write(Fixture *f, uint16_t val)
{
    qpci_config_writew(f->dev->pdev, PM_CAP + PCI_PM_CTRL, val);
}

/* The device is not broken (no DEVICE_NEEDS_RESET) */
static void assert_not_broken(Fixture *f)
{
    uint8_t status = f->dev->vdev.bus->get_status(&f->dev->vdev);

    g_assert_cmphex(status & VIRTIO_CONFIG_S_NEEDS_RESET, ==, 0);
}

/* Start the output stream the way Linux's virtio_snd does */
static void out_start(Fixture *f)
{
    g_assert_cmpuint(pcm_set_params(f, OUT_STREAM), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(pcm(f, VIRTIO_SND_R_PCM_PREPARE, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    g_assert_cmpuint(pcm(f, VIRTIO_SND_R_PCM_START, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
}

/*
 * Guards the capability layout and the guest-visible identity: same IDs
 * as virtio-sound-pci, plus D0/D3hot only; stock has no PM capability.
 */
static void test_capability(void)
{
    Fixture f;
    QPCIDevice *stock;
    uint16_t pmc;
    g_autofree char *log = NULL;

    fixture_start(&f, "-device virtio-sound-pci,audiodev=snd0,addr=05.0");
    g_assert_cmphex(qpci_config_readw(f.dev->pdev, PCI_VENDOR_ID), ==,
                    0x1af4);
    g_assert_cmphex(qpci_config_readw(f.dev->pdev, PCI_DEVICE_ID), ==,
                    0x1040 + VIRTIO_ID_SOUND);
    g_assert_cmphex(qpci_find_capability(f.dev->pdev, PCI_CAP_ID_PM, 0), ==,
                    PM_CAP);
    pmc = qpci_config_readw(f.dev->pdev, PM_CAP + PCI_PM_PMC);
    g_assert_false(pmc & (PCI_PM_CAP_D1 | PCI_PM_CAP_D2));
    g_assert_cmphex(pmc & PCI_PM_CAP_PME_MASK, ==, 0);
    paiov_assert_state(f.qts, "idle");

    stock = qpci_device_find(f.qs->pcibus, STOCK_DEVFN);
    g_assert_nonnull(stock);
    g_assert_cmphex(qpci_config_readw(stock, PCI_DEVICE_ID), ==,
                    0x1040 + VIRTIO_ID_SOUND);
    g_assert_cmphex(qpci_find_capability(stock, PCI_CAP_ID_PM, 0), ==, 0);
    g_free(stock);
    log = fixture_stop(&f);
}

/*
 * Guards the stream life cycle: idle until START, active while a stream
 * runs (host stream running, audio timer armed), idle on STOP (host
 * stream corked, no timer), and still idle through RELEASE (still
 * corked, by the proxy PMA once the stream played out: RELEASE no longer
 * closes the voice at once, which cut off the end of every sound) and a
 * new PREPARE; a released stream starts again after PREPARE.
 */
static void test_lifecycle(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    fixture_start(&f, NULL);
    paiov_assert_state(f.qts, "idle");
    g_assert_cmpuint(pcm_set_params(&f, OUT_STREAM), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_PREPARE, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "idle");
    assert_action(f.qts, "cork");

    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_START, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "active");
    assert_action(f.qts, "run");
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));

    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_STOP, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 200 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    assert_action(f.qts, "cork");

    /* stop, start again: what a pause does */
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_START, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "active");
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_STOP, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_RELEASE, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 200 * SCALE_MS);
    assert_action(f.qts, "cork");

    /* a released stream does not start before PREPARE */
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_START, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    paiov_assert_state(f.qts, "idle");
    out_start(&f);
    paiov_assert_state(f.qts, "active");
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));
    assert_not_broken(&f);
    log = fixture_stop(&f);
    g_assert_nonnull(strstr(log, "PCM START of stream 0: stream released"));
}

/*
 * Guards against a guest confusing the device: requests the stream's
 * state does not allow and stream ids out of range are answered
 * BAD_MSG, logged as guest errors, change no state, and do not break the
 * device (stock virtio-sound-pci sets DEVICE_NEEDS_RESET on a RELEASE of
 * an unknown stream).
 */
static void test_invalid(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    fixture_start(&f, NULL);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_START, 7), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_RELEASE, 99), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_PREPARE, 0xffffffff), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_STOP, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    paiov_assert_state(f.qts, "idle");
    assert_not_broken(&f);

    out_start(&f);
    paiov_assert_state(f.qts, "active");
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_START, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_RELEASE, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_PREPARE, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm_set_params(&f, OUT_STREAM), ==,
                     VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_STOP, 3), ==,
                     VIRTIO_SND_S_BAD_MSG);
    paiov_assert_state(f.qts, "active");
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));

    /* and the device still works */
    g_assert_cmpuint(pcm(&f, VIRTIO_SND_R_PCM_STOP, OUT_STREAM), ==,
                     VIRTIO_SND_S_OK);
    paiov_assert_state(f.qts, "idle");
    assert_not_broken(&f);
    log = fixture_stop(&f);
    g_assert_nonnull(strstr(log, "PCM START of stream 7: no such stream"));
    g_assert_nonnull(strstr(log, "PCM RELEASE of stream 99: no such stream"));
    g_assert_nonnull(strstr(log, "PCM STOP of stream 0: stream not started"));
    g_assert_nonnull(strstr(log,
                            "PCM START of stream 0: stream already started"));
    g_assert_nonnull(strstr(log, "PCM RELEASE of stream 0: stream started"));
    g_assert_nonnull(strstr(log, "PCM SET_PARAMS of stream 0: stream started"));
}

/*
 * Guards D3hot: a running stream is paused (no timer, host stream
 * released) and runs again on D0; reset from D3hot comes back idle.
 */
static void test_d3hot(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    fixture_start(&f, NULL);
    out_start(&f);
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));

    pmcsr_write(&f, 3);
    paiov_assert_state(f.qts, "d3hot");
    g_assert_cmphex(qpci_config_readw(f.dev->pdev, PM_CAP + PCI_PM_CTRL) & 3,
                    ==, 3);
    qtest_clock_step(f.qts, 200 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    assert_action(f.qts, "release");

    pmcsr_write(&f, 0);
    paiov_assert_state(f.qts, "active");
    qtest_clock_step(f.qts, 50 * SCALE_MS);
    g_assert_true(paiov_timer_armed(f.qts));
    assert_action(f.qts, "run");

    pmcsr_write(&f, 3);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(f.qts, "RESET");
    paiov_assert_state(f.qts, "idle");
    log = fixture_stop(&f);
}

/*
 * Guards a driver that goes away with a stream running (unbind, kexec):
 * the device reset (status 0) stops the streams and the device is idle.
 */
static void test_reset(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    fixture_start(&f, NULL);
    out_start(&f);
    paiov_assert_state(f.qts, "active");
    qvirtio_reset(&f.dev->vdev);
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 200 * SCALE_MS);
    g_assert_false(paiov_timer_armed(f.qts));
    log = fixture_stop(&f);
}

/*
 * Guards migration: virtio-sound-device is unmigratable, and so is the
 * paiov device in every state; a refused migration leaves the state and
 * the host action as they were.
 */
static void migrate_blocked(Fixture *f, const char *state, const char *action)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'migrate', 'arguments':"
                           " { 'uri': 'exec:cat >/dev/null' } }");

    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    paiov_assert_state(f->qts, state);
    assert_action(f->qts, action);
}

static void test_migrate(void)
{
    Fixture f;
    g_autofree char *log = NULL;

    fixture_start(&f, NULL);
    migrate_blocked(&f, "idle", "cork");
    out_start(&f);
    migrate_blocked(&f, "active", "run");
    pmcsr_write(&f, 3);
    qtest_clock_step(f.qts, 200 * SCALE_MS);      /* the PMA's debounce */
    migrate_blocked(&f, "d3hot", "release");
    log = fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virtio-snd-paiov/capability", test_capability);
    qtest_add_func("/virtio-snd-paiov/lifecycle", test_lifecycle);
    qtest_add_func("/virtio-snd-paiov/invalid", test_invalid);
    qtest_add_func("/virtio-snd-paiov/d3hot", test_d3hot);
    qtest_add_func("/virtio-snd-paiov/reset", test_reset);
    qtest_add_func("/virtio-snd-paiov/migrate", test_migrate);
    return g_test_run();
}
