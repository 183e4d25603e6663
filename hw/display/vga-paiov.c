/*
 * Standard VGA with a virtual power state agent (vga-paiov)
 *
 * Guest-visible as QEMU's "VGA" (same IDs, same VGA BIOS, the bochs DISPI
 * interface; Linux bochs-drm binds unchanged) plus a PCI power management
 * capability: D0 and D3hot, no D1/D2, no PME.
 *
 * Power states (see PaiovPowerState in qapi/paiov.json):
 * - active: D0 and something on screen;
 * - idle: D0 and the screen dark, because the guest cleared the palette
 *   address source bit of the attribute controller (how bochs-drm and the
 *   VGA BIOS blank), set the screen-off bit of sequencer register 1, or
 *   disabled the bochs DISPI interface with no legacy mode running (CRTC
 *   sync signals disabled);
 * - d3hot: the guest wrote D3hot to PMCSR;
 * - passive-idle: active, but no register write and no change on screen
 *   for the proxy PMA's idle timeout.  The picture stays and the console
 *   is refreshed at most every 3 s; a write to video memory or to a
 *   register ends it at once.
 *
 * A still screen (active or passive idle): when "still-refreshes"
 * display updates in a row found nothing new in video memory, the device
 * traps writes to video memory (a write-only-trapping overlay on the vram
 * region: the linear framebuffer in BAR 0 and the chain 4 mapping at
 * 0xa0000; the planar window by the VGA's mem_written hook) and, after
 * one more update that checks nothing slipped in meanwhile, parks its
 * console's refresh: no dirty-log sync, no video memory scan.  The
 * guest's first write to video memory (done, then the trap removed) or
 * to a register unparks the console, which is refreshed at once from the
 * dirty log, so the new frame is on screen within one refresh interval.
 * A still spell shorter than a second makes the next one wait twice as
 * many updates (bad input: drawing and pausing in a loop).
 * In idle and d3hot the device shows one black frame and parks its console's
 * refresh (qemu_console_park_refresh): UI listeners showing it are
 * refreshed at most every 3 s, other consoles keep their rate, and a
 * refresh that still comes (or a screendump) is answered without scanning
 * video memory.  Back in active the console is refreshed at once, from
 * scratch, so the first frame shown is the guest's current one.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/bswap.h"
#include "hw/core/cpu.h"
#include "system/tcg.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "ui/console.h"
#include "vga_int.h"
#include "vga_regs.h"
#include "vga-pci.h"
#include "paiov/paiov.h"
#include "trace.h"

#define TYPE_VGA_PAIOV "vga-paiov"
OBJECT_DECLARE_SIMPLE_TYPE(VGAPaiovState, VGA_PAIOV)

/*
 * The black frame comes this long after the guest blanked (the timer is
 * not moved by further toggles; it draws only if the screen is still
 * dark then)
 */
#define VGA_PAIOV_BLANK_DELAY_MS 50

/* Below the capabilities the standard VGA has none of */
#define VGA_PAIOV_PM_CAP 0x40

/* Display updates with nothing new before the refresh parks: 120 ms */
#define VGA_PAIOV_STILL_REFRESHES_DEFAULT 4
/*
 * A still spell shorter than this makes the next one wait twice as many
 * updates (up to VGA_PAIOV_STILL_BACKOFF_MAX times), so that a guest
 * that draws and pauses in a loop does not pay a trap per pause
 */
#define VGA_PAIOV_STILL_SHORT_MS 1000
#define VGA_PAIOV_STILL_BACKOFF_MAX 16

/* Where a still screen is (see the top of the file) */
typedef enum VGAPaiovStill {
    VGA_PAIOV_DRAWING,          /* refreshed at the UI's rate */
    VGA_PAIOV_ARMING,           /* trap in place, one more update checks */
    VGA_PAIOV_STILL,            /* refresh parked, writes trapped */
} VGAPaiovStill;

struct VGAPaiovState {
    PCIVGAState parent_obj;

    PaiovVPSA vpsa;
    PaiovHost host;
    QEMUTimer *blank_timer;     /* the black frame, once blanking settles */
    bool dark;                  /* a black frame is on screen */
    uint64_t updates;
    uint64_t updates_avoided;
    uint64_t shown_at_check;    /* console updates at the last check */

    /* the still screen */
    uint32_t still_refreshes;   /* property: updates before parking, 0 no */
    VGAPaiovStill still;
    uint32_t still_count;       /* updates in a row that found nothing */
    uint32_t still_backoff;     /* times still_refreshes, 1 to MAX */
    int64_t still_since_ms;     /* QEMU_CLOCK_VIRTUAL, when it parked */
    bool low_parked;            /* console parked for idle or d3hot */
    bool idle_rate;             /* the proxy PMA's display-idle-rate */
    bool trapped;               /* vram_trap is mapped */
    unsigned flush_pending;     /* TCG vCPUs yet to drop stale TLB entries */
    MemoryRegion vram_trap;     /* over the vram region while not drawing */
    uint64_t still_parks;
    uint64_t still_wakes;
};

typedef struct VGAPaiovClass {
    PCIDeviceClass parent_class;

    PaiovPCIParent parent;
} VGAPaiovClass;

DECLARE_CLASS_CHECKERS(VGAPaiovClass, VGA_PAIOV, TYPE_VGA_PAIOV)

static VGACommonState *vga_paiov_vga(VGAPaiovState *ps)
{
    return &ps->parent_obj.vga;
}

/* Whether the guest programmed the display to show nothing */
static bool vga_paiov_screen_off(VGACommonState *s)
{
    if (!(s->ar_index & 0x20)) {
        return true;
    }
    if (s->sr[VGA_SEQ_CLOCK_MODE] & VGA_SR01_SCREEN_OFF) {
        return true;
    }
    return !(s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED) &&
           !(s->cr[VGA_CRTC_MODE] & VGA_CR17_H_V_SIGNALS_ENABLED);
}

static void vga_paiov_sync(VGAPaiovState *ps);

/* Map or unmap the write trap over video memory */
static void vga_paiov_trap(VGAPaiovState *ps, bool on)
{
    VGACommonState *s = vga_paiov_vga(ps);

    if (ps->trapped == on) {
        return;
    }
    ps->trapped = on;
    memory_region_transaction_begin();
    if (on) {
        memory_region_add_subregion_overlap(&s->vram, 0, &ps->vram_trap, 1);
    } else {
        memory_region_del_subregion(&s->vram, &ps->vram_trap);
    }
    memory_region_transaction_commit();
}

/*
 * Run on each TCG vCPU after the work the commit of a new memory map
 * queued there (tcg_commit_cpu): from then on its TLB has no entry that
 * writes video memory directly.
 */
static void vga_paiov_tlb_flushed(CPUState *cpu, run_on_cpu_data data)
{
    VGAPaiovState *ps = data.host_ptr;

    qatomic_dec(&ps->flush_pending);
}

/*
 * Nothing new for still_refreshes updates: trap writes to video memory.
 * A vCPU may still write through a mapping from before the trap (TCG:
 * until it has flushed its TLB; KVM: between the last update's dirty
 * sync and now), so the console is parked only after one more update
 * that finds nothing, once every TCG vCPU has flushed.
 */
static void vga_paiov_still_arm(VGAPaiovState *ps)
{
    CPUState *cpu;

    vga_paiov_trap(ps, true);
    ps->still = VGA_PAIOV_ARMING;
    if (tcg_enabled()) {
        CPU_FOREACH(cpu) {
            qatomic_inc(&ps->flush_pending);
            async_run_on_cpu(cpu, vga_paiov_tlb_flushed,
                             RUN_ON_CPU_HOST_PTR(ps));
        }
    }
}

/*
 * The guest wrote video memory or a register, or the UI wants a full
 * redraw: refresh at the UI's rate again, at once if the console was
 * parked for a still screen (its surface is the last frame shown; what
 * was written since is in the dirty log).
 */
static void vga_paiov_still_wake(VGAPaiovState *ps)
{
    VGAPaiovStill was = ps->still;

    ps->still_count = 0;
    if (was == VGA_PAIOV_DRAWING) {
        return;
    }
    ps->still = VGA_PAIOV_DRAWING;
    vga_paiov_trap(ps, false);
    if (was == VGA_PAIOV_STILL) {
        bool brief = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) -
                     ps->still_since_ms < VGA_PAIOV_STILL_SHORT_MS;

        ps->still_backoff = brief ?
            MIN(MAX(ps->still_backoff, 1) * 2,
                VGA_PAIOV_STILL_BACKOFF_MAX) : 1;
        ps->still_wakes++;
        vga_paiov_sync(ps);
    }
}

/* After a display update that scanned video memory */
static void vga_paiov_still_check(VGAPaiovState *ps, bool changed)
{
    if (changed || !ps->still_refreshes) {
        vga_paiov_still_wake(ps);
        return;
    }
    switch (ps->still) {
    case VGA_PAIOV_DRAWING:
        if (++ps->still_count >=
            ps->still_refreshes * MAX(ps->still_backoff, 1)) {
            vga_paiov_still_arm(ps);
        }
        break;
    case VGA_PAIOV_ARMING:
        if (!qatomic_read(&ps->flush_pending)) {
            ps->still = VGA_PAIOV_STILL;
            ps->still_parks++;
            ps->still_since_ms = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL);
            vga_paiov_sync(ps);
        }
        break;
    case VGA_PAIOV_STILL:
        break;
    }
}

/*
 * The write trap: reads see video memory, a write is done (dirty as the
 * VGA's own accesses) and wakes the display.  A TCG vCPU may come here
 * after the trap is gone, until it flushes its TLB: the write is done
 * just the same.
 */
static uint64_t vga_paiov_trap_read(void *opaque, hwaddr addr, unsigned size)
{
    VGAPaiovState *ps = opaque;

    return ldn_le_p(vga_paiov_vga(ps)->vram_ptr + addr, size);
}

static void vga_paiov_trap_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    VGAPaiovState *ps = opaque;
    VGACommonState *s = vga_paiov_vga(ps);

    stn_le_p(s->vram_ptr + addr, size, val);
    memory_region_set_dirty(&s->vram, addr, size);
    if (ps->still != VGA_PAIOV_DRAWING) {
        paiov_vpsa_access(&ps->vpsa);
        vga_paiov_still_wake(ps);
    }
}

static const MemoryRegionOps vga_paiov_trap_ops = {
    .read = vga_paiov_trap_read,
    .write = vga_paiov_trap_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/*
 * After each guest write to the VGA or VBE registers (the VGA model's
 * io_written hook): counted by the virtual PSA, the state follows the
 * screen, a still screen wakes
 */
static void vga_paiov_io_written(VGACommonState *s)
{
    VGAPaiovState *ps = container_of(s, VGAPaiovState, parent_obj.vga);

    paiov_vpsa_access(&ps->vpsa);
    paiov_vpsa_set_functions_enabled(&ps->vpsa, !vga_paiov_screen_off(s));
    vga_paiov_still_wake(ps);
}

/* After each guest write to the planar window at 0xa0000 */
static void vga_paiov_mem_written(VGACommonState *s)
{
    VGAPaiovState *ps = container_of(s, VGAPaiovState, parent_obj.vga);

    if (ps->still != VGA_PAIOV_DRAWING) {
        paiov_vpsa_access(&ps->vpsa);
        vga_paiov_still_wake(ps);
    }
}

/*
 * Show a black frame.  The current surface may be video memory itself,
 * so it is replaced rather than cleared.
 */
static void vga_paiov_show_dark(VGAPaiovState *ps)
{
    VGACommonState *s = vga_paiov_vga(ps);
    DisplaySurface *surface = qemu_console_surface(s->con);

    ps->dark = true;
    if (!surface || surface_width(surface) <= 0 ||
        surface_height(surface) <= 0) {
        return;
    }
    trace_paiov_vga_dark(surface_width(surface), surface_height(surface));
    dpy_gfx_replace_surface(s->con,
                            qemu_create_displaysurface(surface_width(surface),
                                                       surface_height(surface)));
    dpy_gfx_update_full(s->con);
}

static void vga_paiov_blank_timer(void *opaque)
{
    VGAPaiovState *ps = opaque;

    if (paiov_vpsa_guest_low_power(&ps->vpsa) && !ps->dark) {
        vga_paiov_show_dark(ps);
    }
}

static void vga_paiov_gfx_update(void *opaque)
{
    VGAPaiovState *ps = opaque;
    VGACommonState *s = vga_paiov_vga(ps);
    int64_t t0 = get_clock();

    if (ps->idle_rate != paiov_host_display_idle_rate(&ps->host)) {
        /* paiovd's thermal throttle: refresh at the idle rate, or not */
        ps->idle_rate = !ps->idle_rate;
        vga_paiov_sync(ps);
    }
    if (ps->still == VGA_PAIOV_STILL) {
        /* the console shows the last frame; any write wakes us first */
        ps->updates_avoided++;
    } else if (!paiov_vpsa_guest_low_power(&ps->vpsa)) {
        /*
         * In passive idle this is a rare refresh (the still screen not
         * parked: no UI refreshes it): the VGA's own update finds what
         * the guest wrote to video memory (its dirty log) and shows it;
         * anything shown ends passive idle.
         */
        uint64_t shown = qemu_console_get_gfx_updates(s->con);
        bool changed;

        ps->updates++;
        s->hw_ops->gfx_update(s);
        changed = qemu_console_get_gfx_updates(s->con) != shown;
        if (ps->vpsa.state == PAIOV_POWER_STATE_PASSIVE_IDLE && changed) {
            paiov_vpsa_access(&ps->vpsa);
        }
        vga_paiov_still_check(ps, changed);
    } else if (!ps->dark) {
        vga_paiov_show_dark(ps);
    } else {
        ps->updates_avoided++;
    }
    ps->vpsa.handler_ns += get_clock() - t0;
}

static void vga_paiov_invalidate(void *opaque)
{
    VGAPaiovState *ps = opaque;
    VGACommonState *s = vga_paiov_vga(ps);

    s->hw_ops->invalidate(s);
    if (paiov_vpsa_guest_low_power(&ps->vpsa)) {
        ps->dark = false;       /* draw the black frame again */
    } else {
        vga_paiov_still_wake(ps);   /* the full redraw comes next */
    }
}

static void vga_paiov_text_update(void *opaque, console_ch_t *chardata)
{
    VGAPaiovState *ps = opaque;
    VGACommonState *s = vga_paiov_vga(ps);

    s->hw_ops->text_update(s, chardata);
}

/*
 * The periodic refresh of the console is deferrable work: on the proxy
 * PMA's grid (pooling with the other QEMUs of the host), never earlier
 * than due, at most max-delay-ms later, never moved under sla=strict
 */
static int64_t vga_paiov_refresh_align(void *opaque, int64_t deadline_ns)
{
    VGAPaiovState *ps = opaque;

    return paiov_vpsa_align(&ps->vpsa, QEMU_CLOCK_REALTIME, deadline_ns);
}

static const GraphicHwOps vga_paiov_ops = {
    .invalidate  = vga_paiov_invalidate,
    .gfx_update  = vga_paiov_gfx_update,
    .text_update = vga_paiov_text_update,
};

/*
 * Make the console and the frame on it follow the power state: active
 * refreshes at the UI's rate unless the screen is still; passive idle
 * keeps the picture and refreshes rarely; idle and d3hot show black and
 * refresh rarely, and do not trap video memory (a write there in D3hot
 * changes nothing the guest or the host sees).
 */
static void vga_paiov_sync(VGAPaiovState *ps)
{
    VGACommonState *s = vga_paiov_vga(ps);
    bool passive = ps->vpsa.state == PAIOV_POWER_STATE_PASSIVE_IDLE;
    bool parked;

    if (!s->con) {
        return;
    }
    parked = qemu_console_refresh_parked(s->con);
    if (!paiov_vpsa_guest_low_power(&ps->vpsa)) {
        if (ps->low_parked) {
            /* redraw everything from video memory, mode included */
            ps->low_parked = false;
            ps->dark = false;
            s->graphic_mode = -1;
            s->hw_ops->invalidate(s);
        }
        qemu_console_park_refresh(s->con,
                                  passive || ps->still == VGA_PAIOV_STILL ||
                                  ps->idle_rate);
        return;
    }
    ps->still = VGA_PAIOV_DRAWING;
    ps->still_count = 0;
    vga_paiov_trap(ps, false);
    if (!ps->low_parked || !parked || !ps->dark) {
        ps->low_parked = true;
        qemu_console_park_refresh(s->con, true);
        /*
         * The black frame, from the main loop like any display update,
         * once the guest has stopped toggling (a blank storm must not
         * cost a new surface per toggle); a refresh or screendump
         * meanwhile draws it at once.
         */
        ps->dark = false;
        if (!timer_pending(ps->blank_timer)) {
            /* re-arming per toggle would wake the main loop per toggle */
            timer_mod(ps->blank_timer,
                      qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                      VGA_PAIOV_BLANK_DELAY_MS);
        }
    }
}

static void vga_paiov_power_changed(PaiovVPSA *vpsa, PaiovPowerState old,
                                    PaiovPowerState new)
{
    vga_paiov_sync(container_of(vpsa, VGAPaiovState, vpsa));
}

static void vga_paiov_query(PaiovVPSA *vpsa, PaiovDeviceInfo *info)
{
    VGAPaiovState *ps = container_of(vpsa, VGAPaiovState, vpsa);
    VGACommonState *s = vga_paiov_vga(ps);
    PaiovDisplayInfo *d = g_new0(PaiovDisplayInfo, 1);
    QemuConsoleRefreshStats stats = { 0 };

    if (s->con) {
        qemu_console_get_refresh_stats(s->con, &stats);
        d->refresh_parked = qemu_console_refresh_parked(s->con);
    }
    d->refresh_interval_ms = stats.interval_ms;
    d->refreshes = stats.refreshes;
    d->refreshes_avoided = stats.avoided;
    d->updates = ps->updates;
    d->updates_avoided = ps->updates_avoided;
    d->still = ps->still == VGA_PAIOV_STILL;
    d->still_parks = ps->still_parks;
    d->still_wakes = ps->still_wakes;
    info->display = d;
    /* its host wakeups are the UI refreshes of its console */
    info->wakeups = stats.refreshes;
    info->has_wakeups_avoided = true;
    info->wakeups_avoided = stats.avoided;
}

/*
 * Drawing into video memory is not trapped: while active, what the
 * display shows changing counts as activity too.
 */
static bool vga_paiov_activity(PaiovVPSA *vpsa)
{
    VGAPaiovState *ps = container_of(vpsa, VGAPaiovState, vpsa);
    VGACommonState *s = vga_paiov_vga(ps);
    uint64_t shown = s->con ? qemu_console_get_gfx_updates(s->con) : 0;
    bool changed = shown != ps->shown_at_check;

    ps->shown_at_check = shown;
    return changed;
}

/* What the registers say: PMCSR, whether the screen is on */
static void vga_paiov_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                                bool *functions_enabled)
{
    VGAPaiovState *ps = container_of(vpsa, VGAPaiovState, vpsa);

    *dstate = paiov_pci_dstate(PCI_DEVICE(ps));
    *functions_enabled = !vga_paiov_screen_off(vga_paiov_vga(ps));
}

static const PaiovVPSAOps vga_paiov_vpsa_ops = {
    .power_changed = vga_paiov_power_changed,
    .registers = vga_paiov_registers,
    .functions_registers = "the screen (attribute controller PAS, "
                           "sequencer screen off, DISPI and CRTC enables)",
    .query = vga_paiov_query,
    .activity = vga_paiov_activity,
    .passive_idle = true,
};

static void vga_paiov_pm_state_changed(PCIDevice *dev, uint8_t old,
                                        uint8_t new)
{
    paiov_pci_pm_state_changed(&VGA_PAIOV(dev)->vpsa, new);
}

/*
 * What can fail comes first: the VGA's realize creates a console and
 * registers ports, and has no undo.
 */
static void vga_paiov_realize(PCIDevice *dev, Error **errp)
{
    VGAPaiovState *ps = VGA_PAIOV(dev);
    VGACommonState *s = vga_paiov_vga(ps);

    if (!paiov_pci_realize_parent(dev, &VGA_PAIOV_GET_CLASS(dev)->parent,
                                  VGA_PAIOV_PM_CAP, &ps->vpsa, &ps->host,
                                  errp)) {
        return;
    }
    ps->blank_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                   vga_paiov_blank_timer, ps);
    memory_region_init_io(&ps->vram_trap, OBJECT(ps), &vga_paiov_trap_ops,
                          ps, "vga-paiov.vram-trap", s->vram_size);
    graphic_console_set_hwops(s->con, &vga_paiov_ops, ps);
    qemu_console_set_refresh_align(s->con, vga_paiov_refresh_align, ps);
    paiov_vpsa_set_functions_enabled(&ps->vpsa, !vga_paiov_screen_off(s));
    paiov_vpsa_realize(&ps->vpsa);
}

static void vga_paiov_unrealize(PCIDevice *dev)
{
    VGAPaiovState *ps = VGA_PAIOV(dev);

    vga_paiov_trap(ps, false);
    if (ps->blank_timer) {
        timer_free(ps->blank_timer);
        ps->blank_timer = NULL;
    }
    paiov_pci_unrealize(dev, &VGA_PAIOV_GET_CLASS(dev)->parent, &ps->vpsa,
                        &ps->host);
}

/*
 * The VGA registers are reset by a handler of their own, in no fixed
 * order with this one: start from the reset state (D0, screen off), the
 * next register write tells what the guest shows.
 */
static void vga_paiov_reset_hold(Object *obj, ResetType type)
{
    VGAPaiovState *ps = VGA_PAIOV(obj);

    paiov_pci_reset_hold(obj, type, &VGA_PAIOV_GET_CLASS(obj)->parent,
                         &ps->vpsa);
    vga_paiov_still_wake(ps);
    vga_paiov_sync(ps);
}

static void vga_paiov_instance_init(Object *obj)
{
    VGAPaiovState *ps = VGA_PAIOV(obj);

    paiov_vpsa_init(&ps->vpsa, DEVICE(obj), &vga_paiov_vpsa_ops);
    vga_paiov_vga(ps)->io_written = vga_paiov_io_written;
    vga_paiov_vga(ps)->mem_written = vga_paiov_mem_written;
}

static int vga_paiov_pre_load(void *opaque)
{
    VGAPaiovState *ps = opaque;

    paiov_vpsa_pre_load(&ps->vpsa);
    return 0;
}

/*
 * After the registers and the vpsa subsection: check, derive, apply.  A
 * still screen is not migrated: the destination draws the frame and
 * parks again after still-refreshes updates with nothing new.
 */
static int vga_paiov_post_load(void *opaque, int version_id)
{
    VGAPaiovState *ps = opaque;
    int ret = paiov_vpsa_post_load(&ps->vpsa);

    vga_paiov_still_wake(ps);
    vga_paiov_sync(ps);
    return ret;
}

/* Sent only when the device is not in its reset state (D0, idle) */
PAIOV_VPSA_SUBSECTION(vmstate_vga_paiov_vpsa, "paiov-vga/vpsa",
                      VGAPaiovState, vpsa);

/* Not "vga-paiov": a subsection name must not start with "vga" */
static const VMStateDescription vmstate_vga_paiov = {
    .name = "paiov-vga",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = vga_paiov_pre_load,
    .post_load = vga_paiov_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(parent_obj, VGAPaiovState, 0, vmstate_vga_pci,
                       PCIVGAState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_vga_paiov_vpsa,
        NULL
    }
};

static const Property vga_paiov_properties[] = {
    DEFINE_PAIOV_PROPERTIES(VGAPaiovState, host),
    DEFINE_PROP_UINT32("still-refreshes", VGAPaiovState, still_refreshes,
                       VGA_PAIOV_STILL_REFRESHES_DEFAULT),
};

static void vga_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);

    pk->pm_state_changed = vga_paiov_pm_state_changed;
    paiov_pci_class_chain(klass, &VGA_PAIOV_CLASS(klass)->parent,
                          vga_paiov_realize, vga_paiov_unrealize,
                          vga_paiov_reset_hold);
    dc->desc = "Standard VGA with PCI power management (PAIOV)";
    dc->vmsd = &vmstate_vga_paiov;
    device_class_set_props(dc, vga_paiov_properties);
}

static const TypeInfo vga_paiov_info = {
    .name = TYPE_VGA_PAIOV,
    .parent = TYPE_PCI_VGA_STD,
    .instance_size = sizeof(VGAPaiovState),
    .instance_init = vga_paiov_instance_init,
    .class_size = sizeof(VGAPaiovClass),
    .class_init = vga_paiov_class_init,
};

static void vga_paiov_register_types(void)
{
    type_register_static(&vga_paiov_info);
}

type_init(vga_paiov_register_types)
