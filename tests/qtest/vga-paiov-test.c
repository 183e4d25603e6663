/*
 * QTest for vga-paiov: the virtual PSA of the power-aware standard VGA
 *
 * Blanking through the attribute controller, the sequencer and the bochs
 * DISPI interface, D3hot/D0 through PMCSR, and what the display shows
 * (screendump) and costs (update counters in query-paiov) in each state.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_regs.h"
#include "qemu/timer.h"
#include "qemu/bswap.h"
#include <sys/un.h>
#include "paiov-qtest.h"

#define DEVFN QPCI_DEVFN(5, 0)
#define PM_CAP 0x40

/* VGA and bochs DISPI ports */
#define VGA_ATT_W 0x3c0
#define VGA_MIS_W 0x3c2
#define VGA_SEQ_I 0x3c4
#define VGA_SEQ_D 0x3c5
#define VGA_CRT_IC 0x3d4
#define VGA_CRT_DC 0x3d5
#define VGA_IS1_RC 0x3da
#define VGA_IS1_RM 0x3ba
#define VBE_INDEX 0x1ce
#define VBE_DATA 0x1cf

#define VBE_XRES 1
#define VBE_YRES 2
#define VBE_BPP 3
#define VBE_ENABLE 4
#define VBE_ENABLED 0x01
#define VBE_LFB_ENABLED 0x40
#define VBE_NOCLEARMEM 0x80

#define WIDTH 64
#define HEIGHT 48

typedef PaiovFixture Fixture;

static void fixture_start(Fixture *f)
{
    f->qts = qtest_init("-M pc -vga none "
                        "-device vga-paiov,id=vga0,addr=05.0");
    paiov_fixture_attach(f, DEVFN, 0);
}

#define fixture_stop paiov_fixture_stop

static int64_t display_counter(QTestState *qts, const char *name)
{
    return paiov_info_sub_int(qts, "display", name);
}

static bool display_parked(QTestState *qts)
{
    return paiov_info_sub_bool(qts, "display", "refresh-parked");
}

/* The attribute controller's palette address source bit: on or blank */
static void att_pas(QTestState *qts, bool on)
{
    /* reset the flip-flop: the status port of the mono or colour mode */
    qtest_inb(qts, VGA_IS1_RM);
    qtest_inb(qts, VGA_IS1_RC);
    qtest_outb(qts, VGA_ATT_W, on ? 0x20 : 0x00);
}

/* A legacy mode on screen: colour ports, CRTC sync enabled, PAS set */
static void legacy_on(QTestState *qts)
{
    qtest_outb(qts, VGA_MIS_W, 0x01);
    qtest_outb(qts, VGA_CRT_IC, 0x17);
    qtest_outb(qts, VGA_CRT_DC, 0x80);
    att_pas(qts, true);
}

static void vbe_write(QTestState *qts, uint16_t index, uint16_t val)
{
    qtest_outw(qts, VBE_INDEX, index);
    qtest_outw(qts, VBE_DATA, val);
}

/* The way bochs-drm sets a mode: DISPI WIDTHxHEIGHTx32, LFB, PAS set */
static void dispi_on(QTestState *qts)
{
    vbe_write(qts, VBE_ENABLE, 0);
    vbe_write(qts, VBE_BPP, 32);
    vbe_write(qts, VBE_XRES, WIDTH);
    vbe_write(qts, VBE_YRES, HEIGHT);
    vbe_write(qts, VBE_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
    att_pas(qts, true);
}

/* Fill the framebuffer (BAR 0) with one 32-bit colour */
static void fb_fill(Fixture *f, uint32_t xrgb)
{
    g_autofree uint32_t *buf = g_new(uint32_t, WIDTH * HEIGHT);
    int i;

    for (i = 0; i < WIDTH * HEIGHT; i++) {
        buf[i] = cpu_to_le32(xrgb);
    }
    qpci_memwrite(f->dev, f->bar, 0, buf, WIDTH * HEIGHT * 4);
}

/*
 * screendump to a PPM file; return the colour of the pixel at (x, y) as
 * 0xRRGGBB.  The size must be the DISPI mode's unless @any_size (a
 * destination of migration in D3hot shows its black frame at the size of
 * the surface it started with).
 */
static uint32_t screendump_pixel_any(QTestState *qts, int x, int y,
                                     bool any_size)
{
    g_autofree char *path = NULL;
    g_autofree char *data = NULL;
    gsize len;
    int fd = g_file_open_tmp("vga-paiov-XXXXXX.ppm", &path, NULL);
    int w, h, max, off;
    const uint8_t *p;

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    qtest_qmp_assert_success(qts, "{ 'execute': 'screendump', "
                             "'arguments': { 'filename': %s } }", path);
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    unlink(path);
    g_assert_cmpint(sscanf(data, "P6 %d %d %d%n", &w, &h, &max, &off), ==,
                    3);
    if (!any_size) {
        g_assert_cmpint(w, ==, WIDTH);
        g_assert_cmpint(h, ==, HEIGHT);
    }
    off++;                                  /* the whitespace after max */
    g_assert_cmpint(len, >=, off + w * h * 3);
    p = (const uint8_t *)data + off + (y * w + x) * 3;
    return (p[0] << 16) | (p[1] << 8) | p[2];
}

static uint32_t screendump_pixel(QTestState *qts, int x, int y)
{
    return screendump_pixel_any(qts, x, y, false);
}

/* Guards the identity: the standard VGA's IDs plus D0/D3hot PM */
static void test_capability(void)
{
    Fixture f;

    fixture_start(&f);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x1234);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x1111);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_CLASS_DEVICE), ==,
                    0x0300);   /* display, VGA */
    g_assert_cmphex(qpci_find_capability(f.dev, PCI_CAP_ID_PM, 0), ==,
                    PM_CAP);
    g_assert_false(qpci_config_readw(f.dev, PM_CAP + PCI_PM_PMC) &
                   (PCI_PM_CAP_D1 | PCI_PM_CAP_D2));
    /* nothing on screen after reset: idle, refresh parked */
    paiov_assert_state(f.qts, "idle");
    g_assert_true(display_parked(f.qts));
    g_assert_cmpint(display_counter(f.qts, "refresh-interval-ms"), ==, 0);
    fixture_stop(&f);
}

/* Guards blanking through the legacy VGA registers (AR index, SR01) */
static void test_blank_vga_ports(void)
{
    Fixture f;

    fixture_start(&f);
    legacy_on(f.qts);
    paiov_assert_state(f.qts, "active");
    g_assert_false(display_parked(f.qts));

    att_pas(f.qts, false);
    paiov_assert_state(f.qts, "idle");
    g_assert_true(display_parked(f.qts));
    att_pas(f.qts, true);
    paiov_assert_state(f.qts, "active");

    qtest_outb(f.qts, VGA_SEQ_I, 0x01);
    qtest_outb(f.qts, VGA_SEQ_D, 0x20);     /* screen off */
    paiov_assert_state(f.qts, "idle");
    qtest_outb(f.qts, VGA_SEQ_D, 0x00);
    paiov_assert_state(f.qts, "active");

    /* sync signals off with no DISPI mode: nothing on screen */
    qtest_outb(f.qts, VGA_CRT_IC, 0x17);
    qtest_outb(f.qts, VGA_CRT_DC, 0x00);
    paiov_assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/*
 * Guards blanking through the bochs DISPI interface and the display in
 * each state: a screendump while active scans video memory and shows it;
 * blanked, it shows black without scanning; unblanked, it shows what the
 * guest drew meanwhile (no stale frame).
 */
static void test_dispi_frames(void)
{
    Fixture f;
    int64_t updates, avoided;

    fixture_start(&f);
    att_pas(f.qts, true);
    paiov_assert_state(f.qts, "idle");            /* no DISPI, no legacy sync */
    dispi_on(f.qts);
    paiov_assert_state(f.qts, "active");

    fb_fill(&f, 0x00ff0000);
    updates = display_counter(f.qts, "updates");
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    g_assert_cmpint(display_counter(f.qts, "updates"), >, updates);

    vbe_write(f.qts, VBE_ENABLE, 0);        /* DISPI off, no legacy mode */
    paiov_assert_state(f.qts, "idle");
    g_assert_true(display_parked(f.qts));
    updates = display_counter(f.qts, "updates");
    avoided = display_counter(f.qts, "updates-avoided");
    fb_fill(&f, 0x0000ff00);                /* drawn while dark */
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x000000);
    g_assert_cmphex(screendump_pixel(f.qts, 60, 40), ==, 0x000000);
    g_assert_cmpint(display_counter(f.qts, "updates"), ==, updates);
    g_assert_cmpint(display_counter(f.qts, "updates-avoided"), >, avoided);

    vbe_write(f.qts, VBE_ENABLE,
              VBE_ENABLED | VBE_LFB_ENABLED | VBE_NOCLEARMEM);
    paiov_assert_state(f.qts, "active");
    g_assert_false(display_parked(f.qts));
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    g_assert_cmpint(display_counter(f.qts, "updates"), >, updates);

    /* the same through the attribute controller, as bochs-drm blanks */
    att_pas(f.qts, false);
    paiov_assert_state(f.qts, "idle");
    fb_fill(&f, 0x000000ff);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x000000);
    att_pas(f.qts, true);
    paiov_assert_state(f.qts, "active");
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x0000ff);
    fixture_stop(&f);
}

/* Guards D3hot: dark and parked whatever the registers say; D0 redraws */
static void test_d3hot(void)
{
    Fixture f;

    fixture_start(&f);
    dispi_on(f.qts);
    fb_fill(&f, 0x00123456);
    g_assert_cmphex(screendump_pixel(f.qts, 0, 0), ==, 0x123456);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    paiov_assert_state(f.qts, "d3hot");
    g_assert_true(display_parked(f.qts));
    g_assert_cmphex(screendump_pixel(f.qts, 0, 0), ==, 0x000000);
    /* register writes in D3hot change the inputs, not the state */
    att_pas(f.qts, false);
    att_pas(f.qts, true);
    paiov_assert_state(f.qts, "d3hot");
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 0);
    paiov_assert_state(f.qts, "active");
    g_assert_false(display_parked(f.qts));
    g_assert_cmphex(screendump_pixel(f.qts, 0, 0), ==, 0x123456);
    fixture_stop(&f);
}

/*
 * Guards the bad-input rule: a guest toggling blank as fast as it can is
 * accounted for every change but gets at most one event per second.
 */
static void test_blank_storm(void)
{
    Fixture f;
    QDict *info, *ev;
    int i, events = 0;

    fixture_start(&f);
    legacy_on(f.qts);
    for (i = 0; i < 2000; i++) {
        att_pas(f.qts, i & 1);
    }
    paiov_assert_state(f.qts, "active");
    qtest_clock_step(f.qts, 1100 * SCALE_MS);
    info = paiov_info(f.qts);
    g_assert_cmpint(qdict_get_int(info, "transitions"), ==, 2001);
    qobject_unref(info);
    while ((ev = qtest_qmp_event_ref(f.qts, "PAIOV_POWER_STATE_CHANGE"))) {
        events++;
        qobject_unref(ev);
    }
    g_assert_cmpint(events, >=, 1);
    g_assert_cmpint(events, <=, 3);
    fixture_stop(&f);
}

/* Guards migration while blanked: parked and dark on the destination */
static void test_migrate_idle(void)
{
    Fixture f, d = { 0 };
    g_autofree char *uri = NULL;

    fixture_start(&f);
    dispi_on(f.qts);
    fb_fill(&f, 0x00abcdef);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    paiov_assert_state(f.qts, "d3hot");
    uri = paiov_migrate_to_file(f.qts, "vga-paiov");

    d.qts = qtest_initf("-M pc -vga none "
                        "-device vga-paiov,id=vga0,addr=05.0 "
                        "-incoming %s", uri);
    paiov_wait_running(d.qts);
    paiov_assert_state(d.qts, "d3hot");
    g_assert_true(display_parked(d.qts));
    g_assert_cmphex(screendump_pixel_any(d.qts, 1, 1, true), ==, 0x000000);
    d.bus = qpci_new_pc(d.qts, NULL);
    d.dev = qpci_device_find(d.bus, DEVFN);
    d.bar = f.bar;
    qpci_config_writew(d.dev, PM_CAP + PCI_PM_CTRL, 0);
    paiov_assert_state(d.qts, "active");
    g_assert_cmphex(screendump_pixel(d.qts, 1, 1), ==, 0xabcdef);

    fixture_stop(&d);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

/*
 * Guards a stream with an out-of-range state (99) or a D-state its
 * PMCSR contradicts: refused, and nothing of it stays in the device
 * (a state left from the stream aborted query-paiov and system_reset
 * in qapi_enum_lookup).
 */
static void migrate_refused(const uint8_t *patch, size_t len)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;

    fixture_start(&f);
    dispi_on(f.qts);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    paiov_assert_state(f.qts, "d3hot");
    uri = paiov_migrate_to_file(f.qts, "vga-paiov");
    dst = paiov_migrate_in_patched_refused(
        "-M pc -vga none -device vga-paiov,id=vga0,addr=05.0", uri,
        "paiov-vga/vpsa", patch, len);
    paiov_assert_alive_after_refusal(dst, DEVFN, 0x11111234);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_bad_state(void)
{
    static const uint8_t patch[] = { 3, 1, 0, 0, 0, 99 };

    migrate_refused(patch, sizeof(patch));
}

static void test_migrate_pmcsr_mismatch(void)
{
    static const uint8_t patch[] = { 0, 1, 0, 0, 0, 0 /* active */ };

    migrate_refused(patch, sizeof(patch));
}

/*
 * Guards a failed realize (the VGA cannot be hot-plugged: on the command
 * line): a host device that does not exist is refused with the
 * property's name before the VGA creates its console and ports, and
 * QEMU exits with an error, not a signal.
 */
static void test_bad_host_device(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *err = NULL;
    int status;
    char *argv[] = {
        (char *)qemu, (char *)"-M", (char *)"pc", (char *)"-vga",
        (char *)"none", (char *)"-display", (char *)"none",
        (char *)"-accel", (char *)"qtest", (char *)"-device",
        (char *)"vga-paiov,host-device=/nonexistent", NULL
    };

    g_assert_nonnull(qemu);
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, &status, NULL));
    g_test_message("%s", err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, "host-device '/nonexistent'"));
}

/*
 * Guards passive idle of the display: the guest leaves the screen on and
 * stops drawing.  After the idle timeout the picture stays (not black);
 * a write to video memory, which is not trapped, is found by the next
 * refresh, which shows it and wakes the device; a register write wakes
 * it at once; drawing while active keeps it active.
 */
static void test_passive_idle(void)
{
    Fixture f;

    f.qts = qtest_init("-M pc -vga none "
                       "-object paiov-pma,id=pma0,idle-timeout-ms=1000 "
                       "-device vga-paiov,id=vga0,addr=05.0,pma=pma0");
    paiov_fixture_attach(&f, DEVFN, 0);
    dispi_on(f.qts);
    fb_fill(&f, 0x00ff0000);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    /* the first update after a mode set redraws all, the next settles */
    screendump_pixel(f.qts, 3, 4);
    qtest_clock_step(f.qts, 1300 * SCALE_MS);
    paiov_assert_state(f.qts, "passive-idle");
    g_assert_true(display_parked(f.qts));

    /* a refresh with nothing new on screen: still passive idle */
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    paiov_assert_state(f.qts, "passive-idle");

    fb_fill(&f, 0x0000ff00);
    paiov_assert_state(f.qts, "passive-idle");
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    paiov_assert_state(f.qts, "active");
    g_assert_false(display_parked(f.qts));

    qtest_clock_step(f.qts, 1300 * SCALE_MS);
    paiov_assert_state(f.qts, "passive-idle");
    att_pas(f.qts, true);
    paiov_assert_state(f.qts, "active");

    /* drawing (no register access) and refreshes keep it active */
    for (int i = 0; i < 6; i++) {
        fb_fill(&f, i & 1 ? 0x000000ff : 0x00ffffff);
        screendump_pixel(f.qts, 0, 0);
        qtest_clock_step(f.qts, 300 * SCALE_MS);
    }
    paiov_assert_state(f.qts, "active");
    fixture_stop(&f);
}

static bool display_still(QTestState *qts)
{
    QDict *info = paiov_info(qts);
    QDict *display = qdict_get_qdict(info, "display");
    bool v;

    g_assert_true(qdict_haskey(display, "still"));
    v = qdict_get_bool(display, "still");

    qobject_unref(info);
    return v;
}

/* The default still-refreshes: updates with nothing new before arming */
#define STILL_REFRESHES 4

/*
 * A screen whose last update drew something, then left still: the
 * updates (screendumps here, UI refreshes in a VM) that find nothing new
 * arm the trap after STILL_REFRESHES, the next one parks: exactly then,
 * not before.
 */
static void still_park_exact(QTestState *qts, uint32_t xrgb)
{
    int i;

    for (i = 0; i < STILL_REFRESHES; i++) {
        g_assert_false(display_still(qts));
        g_assert_cmphex(screendump_pixel(qts, 3, 4), ==, xrgb);
    }
    g_assert_false(display_still(qts));
    g_assert_cmphex(screendump_pixel(qts, 3, 4), ==, xrgb);
    g_assert_true(display_still(qts));
    g_assert_true(display_parked(qts));
    paiov_assert_state(qts, "active");
    qtest_clock_step(qts, 1100 * SCALE_MS);    /* a long still spell */
}

/* Draw after a mode set: its first two updates redraw (see passive-idle) */
static void mode_set_and_fill(Fixture *f, uint32_t xrgb)
{
    dispi_on(f->qts);
    fb_fill(f, xrgb);
    g_assert_cmphex(screendump_pixel(f->qts, 3, 4), ==, xrgb);
    g_assert_cmphex(screendump_pixel(f->qts, 3, 4), ==, xrgb);
}

/* The same from any point: at most STILL_REFRESHES + 2 updates */
static void still_park(QTestState *qts, uint32_t xrgb)
{
    int i;

    for (i = 0; i < STILL_REFRESHES + 2 && !display_still(qts); i++) {
        g_assert_cmphex(screendump_pixel(qts, 3, 4), ==, xrgb);
    }
    g_assert_true(display_still(qts));
    g_assert_true(display_parked(qts));
    paiov_assert_state(qts, "active");
    /* a long still spell: the next one waits the usual number again */
    qtest_clock_step(qts, 1100 * SCALE_MS);
}

/* While still, updates do not scan video memory and the frame stays */
static void still_stays(QTestState *qts, uint32_t xrgb)
{
    int64_t updates = display_counter(qts, "updates");
    int64_t avoided = display_counter(qts, "updates-avoided");
    int i;

    qtest_clock_step(qts, 10 * SCALE_MS);
    for (i = 0; i < 3; i++) {
        g_assert_cmphex(screendump_pixel(qts, 3, 4), ==, xrgb);
    }
    g_assert_true(display_still(qts));
    g_assert_cmpint(display_counter(qts, "updates"), ==, updates);
    g_assert_cmpint(display_counter(qts, "updates-avoided"), ==,
                    avoided + 3);
}

/* Woken by a write: refresh unparked, the next update shows it */
static void still_woken(QTestState *qts, int64_t wakes)
{
    g_assert_false(display_still(qts));
    g_assert_false(display_parked(qts));
    g_assert_cmpint(display_counter(qts, "still-wakes"), ==, wakes);
    paiov_assert_state(qts, "active");
}

/*
 * Guards the still screen and the linear framebuffer: the guest stops
 * drawing, the refresh parks and stops scanning video memory; its first
 * write to the framebuffer in BAR 0 (bochs-drm's) unparks it and the
 * next update shows it; a long still spell changes nothing of that.
 */
static void test_still_lfb(void)
{
    Fixture f;

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park_exact(f.qts, 0xff0000);
    g_assert_cmpint(display_counter(f.qts, "still-parks"), ==, 1);
    still_stays(f.qts, 0xff0000);
    qtest_clock_step(f.qts, 60 * NANOSECONDS_PER_SECOND);
    g_assert_true(display_still(f.qts));

    /* a read changes nothing */
    g_assert_cmphex(qpci_io_readl(f.dev, f.bar, 0), ==, 0x00ff0000);
    g_assert_true(display_still(f.qts));

    fb_fill(&f, 0x0000ff00);
    still_woken(f.qts, 1);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    g_assert_cmphex(screendump_pixel(f.qts, 63, 47), ==, 0x00ff00);

    /* and parks again; one 32-bit write anywhere wakes it */
    still_park(f.qts, 0x00ff00);
    qpci_io_writel(f.dev, f.bar, (47 * WIDTH + 63) * 4, 0x000000ff);
    still_woken(f.qts, 2);
    g_assert_cmphex(screendump_pixel(f.qts, 63, 47), ==, 0x0000ff);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    fixture_stop(&f);
}

/*
 * Guards the legacy window: in a DISPI mode 0xa0000 maps video memory
 * directly (the VGA's chain 4 alias, under the same trap); with a plane
 * write mask it goes through the VGA's own write handler (the
 * mem_written hook).  Either wakes a still screen and shows.
 */
static void test_still_legacy_window(void)
{
    Fixture f;

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park(f.qts, 0xff0000);

    qtest_writel(f.qts, 0xa0000 + (4 * WIDTH + 3) * 4, 0x00123456);
    still_woken(f.qts, 1);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x123456);

    /* planes 0-2 only: no alias, the VGA's handler writes (chain 4) */
    qtest_outb(f.qts, VGA_SEQ_I, 0x02);
    qtest_outb(f.qts, VGA_SEQ_D, 0x07);
    still_park(f.qts, 0x123456);
    qtest_writeb(f.qts, 0xa0000 + (4 * WIDTH + 3) * 4 + 1, 0xab);
    still_woken(f.qts, 2);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x12ab56);
    fixture_stop(&f);
}

/* Updates that find nothing new until the screen is still */
static int updates_to_still(QTestState *qts, uint32_t xrgb)
{
    int n = 0;

    while (!display_still(qts)) {
        g_assert_cmphex(screendump_pixel(qts, 3, 4), ==, xrgb);
        g_assert_cmpint(++n, <=, 100);
    }
    return n;
}

/*
 * Guards the bad input of a guest that draws and pauses in a loop: a
 * still spell that ends within a second makes the next one wait twice
 * as many updates (up to 16 times), so the trap and the memory map
 * changes stay rare; a long spell brings the usual count back.
 */
static void test_still_toggle_backoff(void)
{
    Fixture f;
    int i;

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    /* the first still spell of the device is brief too */
    g_assert_cmpint(updates_to_still(f.qts, 0xff0000), ==,
                    STILL_REFRESHES + 1);
    fb_fill(&f, 0x0000ff00);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    g_assert_cmpint(updates_to_still(f.qts, 0x00ff00), ==,
                    2 * STILL_REFRESHES + 1);
    qtest_clock_step(f.qts, 1100 * SCALE_MS);
    fb_fill(&f, 0x00ff0000);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    still_park_exact(f.qts, 0xff0000);           /* a long spell after */
    for (i = 1; i <= 6; i++) {
        qtest_clock_step(f.qts, 100 * SCALE_MS);
        fb_fill(&f, i & 1 ? 0x0000ff00 : 0x00ff0000);
        g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==,
                        i & 1 ? 0x00ff00 : 0xff0000);
        g_assert_cmpint(updates_to_still(f.qts, i & 1 ? 0x00ff00 : 0xff0000),
                        ==, STILL_REFRESHES * MIN(1 << (i - 1), 16) + 1);
    }
    qtest_clock_step(f.qts, 1100 * SCALE_MS);
    fb_fill(&f, 0x000000ff);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x0000ff);
    g_assert_cmpint(updates_to_still(f.qts, 0x0000ff), ==,
                    STILL_REFRESHES + 1);
    fixture_stop(&f);
}

/* Guards the registers: any register write wakes a still screen */
static void test_still_register(void)
{
    Fixture f;

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park(f.qts, 0xff0000);
    att_pas(f.qts, true);                   /* the screen stays on */
    still_woken(f.qts, 1);
    still_park(f.qts, 0xff0000);
    vbe_write(f.qts, VBE_XRES, WIDTH);      /* DISPI, the same mode */
    still_woken(f.qts, 2);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    fixture_stop(&f);
}

/*
 * Guards still-refreshes=0 (never park) and D3hot: a still screen that
 * goes to D3hot is dark and not trapped (a write to the framebuffer
 * there changes nothing, as before); back in D0 it shows its picture,
 * parks again and wakes on the next write.
 */
static void test_still_off_and_d3hot(void)
{
    Fixture f;
    int i;

    f.qts = qtest_init("-M pc -vga none -device "
                       "vga-paiov,id=vga0,addr=05.0,still-refreshes=0");
    paiov_fixture_attach(&f, DEVFN, 0);
    dispi_on(f.qts);
    fb_fill(&f, 0x00ff0000);
    for (i = 0; i < 3 * STILL_REFRESHES; i++) {
        g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    }
    g_assert_false(display_still(f.qts));
    g_assert_false(display_parked(f.qts));
    fixture_stop(&f);

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park(f.qts, 0xff0000);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 3);
    paiov_assert_state(f.qts, "d3hot");
    g_assert_false(display_still(f.qts));
    g_assert_true(display_parked(f.qts));
    fb_fill(&f, 0x0000ff00);    /* in D3hot: the BAR does not decode */
    paiov_assert_state(f.qts, "d3hot");
    g_assert_false(display_still(f.qts));
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x000000);
    qpci_config_writew(f.dev, PM_CAP + PCI_PM_CTRL, 0);
    paiov_assert_state(f.qts, "active");
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xff0000);
    still_park(f.qts, 0xff0000);
    fb_fill(&f, 0x0000ff00);
    still_woken(f.qts, 1);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    fixture_stop(&f);
}

/*
 * Guards a still screen through passive idle: the proxy PMA's idle
 * timeout passes while parked; the first write to video memory shows
 * and ends passive idle at once (no waiting for a rare refresh).
 */
static void test_still_passive_idle(void)
{
    Fixture f;

    f.qts = qtest_init("-M pc -vga none "
                       "-object paiov-pma,id=pma0,idle-timeout-ms=1000 "
                       "-device vga-paiov,id=vga0,addr=05.0,pma=pma0");
    paiov_fixture_attach(&f, DEVFN, 0);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park(f.qts, 0xff0000);
    qtest_clock_step(f.qts, 1300 * SCALE_MS);
    paiov_assert_state(f.qts, "passive-idle");
    g_assert_true(display_still(f.qts));
    g_assert_true(display_parked(f.qts));
    fb_fill(&f, 0x0000ff00);
    still_woken(f.qts, 1);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0x00ff00);
    fixture_stop(&f);
}

/*
 * Guards migration of a still screen: not migrated, recomputed.  The
 * destination shows the source's frame, a write there shows at the next
 * update, and it parks again after the same number of updates.
 */
static void test_still_migrate(void)
{
    Fixture f, d = { 0 };
    g_autofree char *uri = NULL;

    fixture_start(&f);
    mode_set_and_fill(&f, 0x00ff0000);
    still_park(f.qts, 0xff0000);
    uri = paiov_migrate_to_file(f.qts, "vga-paiov");

    d.qts = qtest_initf("-M pc -vga none "
                        "-device vga-paiov,id=vga0,addr=05.0 "
                        "-incoming %s", uri);
    paiov_wait_running(d.qts);
    paiov_assert_state(d.qts, "active");
    g_assert_false(display_still(d.qts));
    d.bus = qpci_new_pc(d.qts, NULL);
    d.dev = qpci_device_find(d.bus, DEVFN);
    d.bar = f.bar;
    g_assert_cmphex(screendump_pixel(d.qts, 3, 4), ==, 0xff0000);
    g_assert_cmphex(screendump_pixel(d.qts, 3, 4), ==, 0xff0000);
    still_park_exact(d.qts, 0xff0000);
    fb_fill(&d, 0x000000ff);
    still_woken(d.qts, 1);
    g_assert_cmphex(screendump_pixel(d.qts, 3, 4), ==, 0x0000ff);
    still_park(d.qts, 0x0000ff);

    /* the source, parked when it stopped, wakes and shows a write */
    qpci_io_writel(f.dev, f.bar, (4 * WIDTH + 3) * 4, 0x00abcdef);
    still_woken(f.qts, 1);
    g_assert_cmphex(screendump_pixel(f.qts, 3, 4), ==, 0xabcdef);

    fixture_stop(&d);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static ssize_t recv_all(int fd, void *buf, size_t len)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = recv(fd, (char *)buf + got, len - got, 0);
        if (n <= 0) {
            return -1;
        }
        got += n;
    }
    return got;
}

/*
 * A VNC client on a unix socket, through the RFB 3.8 handshake (no
 * security, shared): a display listener whose refresh runs (every 30 ms,
 * backing off to 3 s on a still screen) on the real-time clock.
 */
static int vnc_client(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    uint8_t buf[64];
    uint32_t name_len;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==,
                    0);
    g_assert_cmpint(recv_all(fd, buf, 12), ==, 12);   /* version */
    g_assert_true(!memcmp(buf, "RFB 003.008\n", 12));
    g_assert_cmpint(write(fd, "RFB 003.008\n", 12), ==, 12);
    g_assert_cmpint(recv_all(fd, buf, 2), ==, 2);     /* 1 type */
    g_assert_cmpint(buf[0], ==, 1);
    g_assert_cmpint(buf[1], ==, 1);                        /* none */
    g_assert_cmpint(write(fd, "\x01", 1), ==, 1);
    g_assert_cmpint(recv_all(fd, buf, 4), ==, 4);     /* result ok */
    g_assert_cmpint(ldl_be_p(buf), ==, 0);
    g_assert_cmpint(write(fd, "\x01", 1), ==, 1);          /* shared */
    g_assert_cmpint(recv_all(fd, buf, 24), ==, 24);   /* ServerInit */
    name_len = ldl_be_p(buf + 20);
    g_assert_cmpint(name_len, <, sizeof(buf));
    g_assert_cmpint(recv_all(fd, buf, name_len), ==, name_len);
    return fd;
}

/*
 * Guards the display refresh on the proxy PMA's grid (pooling, issue
 * 13): the refresh timer of a console shown by a VNC client is deferred
 * work the PMA aligns (its "aligned" count grows, each move within
 * max-delay-ms: never earlier than due, bounded); under sla=strict it
 * is never moved.  Real time passes (the refresh runs on the real-time
 * clock): what is checked are counts, until enough refreshes came.
 */
static void align_refresh(bool strict)
{
    g_autofree char *path = g_strdup_printf("%s/vga-paiov-vnc-%d.sock",
                                            g_get_tmp_dir(), getpid());
    QTestState *qts;
    QDict *c;
    int64_t moved = 0, kept = 0;
    int fd, i;

    qts = qtest_initf("-M pc -vga none -object paiov-pma,id=pma0,"
                      "idle-timeout-ms=0,align-period-us=100000,"
                      "max-delay-ms=150,sla=%s "
                      "-device vga-paiov,id=vga0,addr=05.0,pma=pma0,"
                      "still-refreshes=0 -vnc unix:%s",
                      strict ? "strict" : "relaxed", path);
    fd = vnc_client(path);
    legacy_on(qts);
    /*
     * A deadline that falls on a tick already is "not-aligned" (left
     * where it was): under relaxed, wait for five moved ones.
     */
    for (i = 0; i < 1000 && (strict ? kept : moved) < 5; i++) {
        g_usleep(10 * 1000);
        c = paiov_pma_sub(qts, "/objects/pma0", "coordination");
        moved = qdict_get_int(c, "aligned");
        kept = qdict_get_int(c, "not-aligned");
        g_assert_cmpint(qdict_get_int(c, "max-observed-delay-ns"), <=,
                        150 * SCALE_MS);
        qobject_unref(c);
    }
    g_test_message("refresh deadlines: %" PRId64 " aligned, %" PRId64
                   " not", moved, kept);
    if (strict) {
        g_assert_cmpint(moved, ==, 0);
        g_assert_cmpint(kept, >=, 5);
    } else {
        g_assert_cmpint(moved, >=, 5);
        g_assert_cmpint(kept, <=, moved);
    }
    close(fd);
    qtest_quit(qts);
    unlink(path);
}

/*
 * Guards paiovd's thermal throttle on the display (issue 13): while the
 * proxy PMA's display-idle-rate is set, the console a VNC client shows
 * is refreshed at the idle rate (3 s), video memory still scanned at
 * each; cleared, the UI's rate is back.  The refresh runs on the real
 * time clock: the test waits for the next ones (at most 3 s each).
 */
static void test_throttle_idle_rate(void)
{
    g_autofree char *path = g_strdup_printf("%s/vga-paiov-vnc-%d.sock",
                                            g_get_tmp_dir(), getpid());
    QTestState *qts;
    int fd, i;

    qts = qtest_initf("-M pc -vga none -object paiov-pma,id=pma0,"
                      "idle-timeout-ms=0 -device vga-paiov,id=vga0,"
                      "addr=05.0,pma=pma0,still-refreshes=0 "
                      "-vnc unix:%s", path);
    fd = vnc_client(path);
    legacy_on(qts);
    paiov_assert_state(qts, "active");
    g_assert_false(display_parked(qts));
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments': {"
                             " 'path': '/objects/pma0', 'property':"
                             " 'display-idle-rate', 'value': true } }");
    for (i = 0; i < 500 && !display_parked(qts); i++) {
        g_usleep(10 * 1000);
    }
    g_assert_true(display_parked(qts));
    g_assert_cmpint(display_counter(qts, "refresh-interval-ms"), ==, 3000);
    paiov_assert_state(qts, "active");
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments': {"
                             " 'path': '/objects/pma0', 'property':"
                             " 'display-idle-rate', 'value': false } }");
    for (i = 0; i < 1000 && display_parked(qts); i++) {
        g_usleep(10 * 1000);
    }
    g_assert_false(display_parked(qts));
    g_assert_cmpint(display_counter(qts, "refresh-interval-ms"), <, 3000);
    close(fd);
    qtest_quit(qts);
    unlink(path);
}

static void test_align_refresh(void)
{
    align_refresh(false);
}

static void test_align_refresh_strict(void)
{
    align_refresh(true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/vga-paiov/capability", test_capability);
    qtest_add_func("/vga-paiov/blank/vga-ports", test_blank_vga_ports);
    qtest_add_func("/vga-paiov/blank/dispi-frames", test_dispi_frames);
    qtest_add_func("/vga-paiov/d3hot", test_d3hot);
    qtest_add_func("/vga-paiov/blank-storm", test_blank_storm);
    qtest_add_func("/vga-paiov/migrate/d3hot", test_migrate_idle);
    qtest_add_func("/vga-paiov/bad-host-device", test_bad_host_device);
    qtest_add_func("/vga-paiov/migrate/bad-state", test_migrate_bad_state);
    qtest_add_func("/vga-paiov/migrate/pmcsr-mismatch",
                   test_migrate_pmcsr_mismatch);
    qtest_add_func("/vga-paiov/passive-idle", test_passive_idle);
    qtest_add_func("/vga-paiov/still/lfb", test_still_lfb);
    qtest_add_func("/vga-paiov/still/legacy-window",
                   test_still_legacy_window);
    qtest_add_func("/vga-paiov/still/register", test_still_register);
    qtest_add_func("/vga-paiov/still/toggle-backoff",
                   test_still_toggle_backoff);
    qtest_add_func("/vga-paiov/still/off-and-d3hot",
                   test_still_off_and_d3hot);
    qtest_add_func("/vga-paiov/still/passive-idle", test_still_passive_idle);
    qtest_add_func("/vga-paiov/still/migrate", test_still_migrate);
    qtest_add_func("/vga-paiov/align/refresh", test_align_refresh);
    qtest_add_func("/vga-paiov/align/refresh-strict",
                   test_align_refresh_strict);
    qtest_add_func("/vga-paiov/throttle/idle-rate", test_throttle_idle_rate);
    return g_test_run();
}
