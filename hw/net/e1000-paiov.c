/*
 * Intel 82540EM with a virtual power state agent (e1000-paiov)
 *
 * Guest-visible as QEMU's "e1000" (82540EM, same IDs; Linux e1000 binds
 * unchanged) plus the PCI power management capability the real chip has
 * at 0xdc, reduced to D0 and D3hot (no PME).
 *
 * Power states (see PaiovPowerState in qapi/paiov.json):
 * - active: D0, receive or transmit enabled (RCTL.EN, TCTL.EN) and the
 *   link up;
 * - idle: D0, receive and transmit disabled, or the link set down from
 *   the monitor (set_link);
 * - d3hot: the guest wrote D3hot to PMCSR;
 * - passive-idle: active, but no register access and no packet to
 *   receive for the proxy PMA's idle timeout; only the host side
 *   changes (runtime PM, PM QoS), the next access or packet ends it.
 * In idle and d3hot no device timer is armed (auto-negotiation, interrupt
 * mitigation, queue flush: a timer armed meanwhile is parked and armed
 * again, due at once, on the way back) and the backend is not polled for
 * receive.  Packets that arrive meanwhile stay queued in the backend
 * (QEMU's net queue, bounded there as for a guest that is slow to refill
 * its receive ring) and are delivered once the device is active again.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "e1000.h"
#include "paiov/paiov.h"

#define TYPE_E1000_PAIOV "e1000-paiov"
OBJECT_DECLARE_SIMPLE_TYPE(E1000PaiovState, E1000_PAIOV)

/* Where the real 82540EM has its power management capability */
#define E1000_PAIOV_PM_CAP 0xdc

#define E1000_PAIOV_NR_TIMERS 3

struct E1000PaiovState {
    E1000State parent_obj;

    PaiovVPSA vpsa;
    PaiovHost host;
    bool parked[E1000_PAIOV_NR_TIMERS];     /* timers to arm on wake-up */
    bool parked_mig[E1000_PAIOV_NR_TIMERS]; /* parked, in the stream */
};

typedef struct E1000PaiovClass {
    E1000BaseClass parent_class;

    PaiovPCIParent parent;
} E1000PaiovClass;

DECLARE_CLASS_CHECKERS(E1000PaiovClass, E1000_PAIOV, TYPE_E1000_PAIOV)

static QEMUTimer **e1000_paiov_timers(E1000State *s,
                                      QEMUTimer **t[E1000_PAIOV_NR_TIMERS])
{
    t[0] = &s->autoneg_timer;
    t[1] = &s->mit_timer;
    t[2] = &s->flush_queue_timer;
    return t[0];
}

/* Low-power: no timer stays armed; remember which ones were */
static void e1000_paiov_park_timers(E1000PaiovState *ps)
{
    QEMUTimer **t[E1000_PAIOV_NR_TIMERS];
    int i;

    e1000_paiov_timers(&ps->parent_obj, t);
    for (i = 0; i < E1000_PAIOV_NR_TIMERS; i++) {
        if (*t[i] && timer_pending(*t[i])) {
            ps->parked[i] = true;
            ps->vpsa.wakeups_avoided++;
            timer_del(*t[i]);
        }
    }
}

static void e1000_paiov_unpark_timers(E1000PaiovState *ps)
{
    QEMUTimer **t[E1000_PAIOV_NR_TIMERS];
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    int i;

    e1000_paiov_timers(&ps->parent_obj, t);
    for (i = 0; i < E1000_PAIOV_NR_TIMERS; i++) {
        if (ps->parked[i]) {
            ps->parked[i] = false;
            timer_mod_ns(*t[i], now);
        }
    }
}

static bool e1000_paiov_functions_enabled(E1000State *s)
{
    return ((s->mac_reg[RCTL] & E1000_RCTL_EN) ||
            (s->mac_reg[TCTL] & E1000_TCTL_EN)) &&
           !qemu_get_queue(s->nic)->link_down;
}

/* After any guest or monitor action: derive the state, keep timers off */
static void e1000_paiov_update(E1000State *s)
{
    E1000PaiovState *ps = E1000_PAIOV(s);

    paiov_vpsa_set_functions_enabled(&ps->vpsa,
                                     e1000_paiov_functions_enabled(s));
    if (paiov_vpsa_guest_low_power(&ps->vpsa)) {
        e1000_paiov_park_timers(ps);
    }
}

/*
 * The MMIO and I/O BARs, through E1000BaseClass.mmio_ops and io_ops:
 * every guest access is counted (and timed) by the virtual PSA; after a
 * register write the state follows RCTL.EN and TCTL.EN.
 */
static uint64_t e1000_paiov_mmio_read(void *opaque, hwaddr addr,
                                      unsigned size)
{
    E1000PaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);
    uint64_t val = e1000_mmio_read(opaque, addr, size);

    paiov_vpsa_access_end(&ps->vpsa, t0);
    return val;
}

static void e1000_paiov_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                   unsigned size)
{
    E1000PaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);

    e1000_mmio_write(opaque, addr, val, size);
    e1000_paiov_update(&ps->parent_obj);
    paiov_vpsa_access_end(&ps->vpsa, t0);
}

static const MemoryRegionOps e1000_paiov_mmio_ops = {
    .read = e1000_paiov_mmio_read,
    .write = e1000_paiov_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static uint64_t e1000_paiov_io_read(void *opaque, hwaddr addr, unsigned size)
{
    E1000PaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);
    uint64_t val = e1000_io_read(opaque, addr, size);

    paiov_vpsa_access_end(&ps->vpsa, t0);
    return val;
}

static void e1000_paiov_io_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    E1000PaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);

    e1000_io_write(opaque, addr, val, size);
    paiov_vpsa_access_end(&ps->vpsa, t0);
}

static const MemoryRegionOps e1000_paiov_io_ops = {
    .read = e1000_paiov_io_read,
    .write = e1000_paiov_io_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
};

/* An expiry of auto-negotiation, interrupt mitigation or queue flush */
static void e1000_paiov_timer_fired(E1000State *s)
{
    paiov_vpsa_timer_fired(&E1000_PAIOV(s)->vpsa);
}

static void e1000_paiov_link_changed(E1000State *s)
{
    e1000_paiov_update(s);
}

static bool e1000_paiov_rx_allowed(E1000State *s)
{
    E1000PaiovState *ps = E1000_PAIOV(s);

    if (paiov_vpsa_guest_low_power(&ps->vpsa)) {
        return false;
    }
    /* a packet for the guest ends passive idle before it is received */
    if (ps->vpsa.state == PAIOV_POWER_STATE_PASSIVE_IDLE) {
        paiov_vpsa_access(&ps->vpsa);
    }
    return true;
}

static void e1000_paiov_power_changed(PaiovVPSA *vpsa, PaiovPowerState old,
                                      PaiovPowerState new)
{
    E1000PaiovState *ps = container_of(vpsa, E1000PaiovState, vpsa);

    if (paiov_vpsa_guest_low_power(&ps->vpsa)) {
        e1000_paiov_park_timers(ps);
    } else if (ps->parent_obj.nic) {
        e1000_paiov_unpark_timers(ps);
        /* what the backend kept for us meanwhile */
        qemu_flush_queued_packets(qemu_get_queue(ps->parent_obj.nic));
    }
}

static bool e1000_paiov_timer_armed(PaiovVPSA *vpsa)
{
    E1000PaiovState *ps = container_of(vpsa, E1000PaiovState, vpsa);
    QEMUTimer **t[E1000_PAIOV_NR_TIMERS];
    int i;

    e1000_paiov_timers(&ps->parent_obj, t);
    for (i = 0; i < E1000_PAIOV_NR_TIMERS; i++) {
        if (*t[i] && timer_pending(*t[i])) {
            return true;
        }
    }
    return false;
}

/* What the registers say: PMCSR, RCTL.EN and TCTL.EN, the link */
static void e1000_paiov_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                                  bool *functions_enabled)
{
    E1000PaiovState *ps = container_of(vpsa, E1000PaiovState, vpsa);

    *dstate = paiov_pci_dstate(PCI_DEVICE(ps));
    *functions_enabled = e1000_paiov_functions_enabled(&ps->parent_obj);
}

static const PaiovVPSAOps e1000_paiov_vpsa_ops = {
    .power_changed = e1000_paiov_power_changed,
    .registers = e1000_paiov_registers,
    .functions_registers = "RCTL.EN/TCTL.EN with the link (STATUS.LU)",
    .timer_armed = e1000_paiov_timer_armed,
    .passive_idle = true,
    .low_latency = true,
};

static void e1000_paiov_pm_state_changed(PCIDevice *dev, uint8_t old,
                                          uint8_t new)
{
    paiov_pci_pm_state_changed(&E1000_PAIOV(dev)->vpsa, new);
}

static void e1000_paiov_realize(PCIDevice *pci_dev, Error **errp)
{
    E1000PaiovState *ps = E1000_PAIOV(pci_dev);

    if (!paiov_pci_realize_parent(pci_dev,
                                  &E1000_PAIOV_GET_CLASS(pci_dev)->parent,
                                  E1000_PAIOV_PM_CAP, &ps->vpsa, &ps->host,
                                  errp)) {
        return;
    }
    ps->vpsa.counts_avoided = true;
    paiov_vpsa_realize(&ps->vpsa);
}

static void e1000_paiov_unrealize(PCIDevice *dev)
{
    E1000PaiovState *ps = E1000_PAIOV(dev);

    paiov_pci_unrealize(dev, &E1000_PAIOV_GET_CLASS(dev)->parent, &ps->vpsa,
                        &ps->host);
}

static void e1000_paiov_reset_hold(Object *obj, ResetType type)
{
    E1000PaiovState *ps = E1000_PAIOV(obj);

    memset(ps->parked, 0, sizeof(ps->parked));
    paiov_pci_reset_hold(obj, type, &E1000_PAIOV_GET_CLASS(obj)->parent,
                         &ps->vpsa);
    e1000_paiov_update(&ps->parent_obj);
}

static void e1000_paiov_instance_init(Object *obj)
{
    E1000PaiovState *ps = E1000_PAIOV(obj);

    paiov_vpsa_init(&ps->vpsa, DEVICE(obj), &e1000_paiov_vpsa_ops);
}

/* Before the vpsa subsection: which parked timers it carries */
static int e1000_paiov_pre_save(void *opaque)
{
    E1000PaiovState *ps = opaque;

    memcpy(ps->parked_mig, ps->parked, sizeof(ps->parked));
    return 0;
}

static int e1000_paiov_pre_load(void *opaque)
{
    E1000PaiovState *ps = opaque;

    paiov_vpsa_pre_load(&ps->vpsa);
    return 0;
}

/*
 * After the registers and the vpsa subsection.  e1000's own post_load
 * armed its timers (interrupt mitigation, an auto-negotiation in
 * progress): the state derived here parks them unless the device is
 * active, whether the stream had a vpsa subsection or not, and also when
 * the stream is refused.
 */
static int e1000_paiov_post_load(void *opaque, int version_id)
{
    E1000PaiovState *ps = opaque;
    bool parked[E1000_PAIOV_NR_TIMERS];
    int ret;

    memcpy(parked, ps->parked, sizeof(parked));
    if (ps->vpsa.mig.received) {
        memcpy(ps->parked, ps->parked_mig, sizeof(ps->parked));
    }
    ret = paiov_vpsa_post_load(&ps->vpsa);
    if (ret < 0) {
        memcpy(ps->parked, parked, sizeof(parked));
    }
    if (paiov_vpsa_guest_low_power(&ps->vpsa)) {
        e1000_paiov_park_timers(ps);
    }
    return ret;
}

/* Sent only when the device is not in its reset state (D0, idle) */
PAIOV_VPSA_SUBSECTION(vmstate_e1000_paiov_vpsa, "paiov-e1000/vpsa",
                      E1000PaiovState, vpsa,
                      VMSTATE_BOOL_ARRAY(parked_mig, E1000PaiovState,
                                         E1000_PAIOV_NR_TIMERS));

/*
 * Not named "e1000-paiov": the migration core takes a subsection whose
 * name starts with the name of the struct being loaded ("e1000") for one
 * of that struct's own.
 */
static const VMStateDescription vmstate_e1000_paiov = {
    .name = "paiov-e1000",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = e1000_paiov_pre_save,
    .pre_load = e1000_paiov_pre_load,
    .post_load = e1000_paiov_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(parent_obj, E1000PaiovState, 0, vmstate_e1000,
                       E1000State),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_e1000_paiov_vpsa,
        NULL
    }
};

static const Property e1000_paiov_properties[] = {
    DEFINE_PAIOV_PROPERTIES(E1000PaiovState, host),
};

static void e1000_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);
    E1000BaseClass *ek = E1000_CLASS(klass);

    ek->mmio_ops = &e1000_paiov_mmio_ops;
    ek->io_ops = &e1000_paiov_io_ops;
    ek->timer_fired = e1000_paiov_timer_fired;
    ek->link_changed = e1000_paiov_link_changed;
    ek->rx_allowed = e1000_paiov_rx_allowed;
    pk->pm_state_changed = e1000_paiov_pm_state_changed;
    paiov_pci_class_chain(klass, &E1000_PAIOV_CLASS(klass)->parent,
                          e1000_paiov_realize, e1000_paiov_unrealize,
                          e1000_paiov_reset_hold);
    dc->desc = "Intel Gigabit Ethernet (82540EM) with PCI power management "
               "(PAIOV)";
    dc->vmsd = &vmstate_e1000_paiov;
    device_class_set_props(dc, e1000_paiov_properties);
}

static const TypeInfo e1000_paiov_info = {
    .name = TYPE_E1000_PAIOV,
    .parent = "e1000",
    .instance_size = sizeof(E1000PaiovState),
    .instance_init = e1000_paiov_instance_init,
    .class_size = sizeof(E1000PaiovClass),
    .class_init = e1000_paiov_class_init,
};

static void e1000_paiov_register_types(void)
{
    type_register_static(&e1000_paiov_info);
}

type_init(e1000_paiov_register_types)
