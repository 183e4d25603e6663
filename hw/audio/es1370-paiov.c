/*
 * ES1370 with a virtual power state agent (es1370-paiov)
 *
 * Guest-visible as an ENSONIQ AudioPCI ES1370 (same IDs, the unmodified
 * guest driver binds) plus a PCI power management capability at 0xdc,
 * where the real chip has one: D0 and D3hot, no D1/D2, no PME.
 *
 * Power states (see PaiovPowerState in qapi/paiov.json):
 * - active: a DAC or ADC channel is enabled in the CONTROL register;
 * - idle: D0, all channels disabled;
 * - d3hot: the guest wrote D3hot to PMCSR.
 * In idle and d3hot no voice is active, so the audio timer stops once the
 * samples QEMU buffered are played out; the proxy PMA then corks (idle) or
 * releases (d3hot) the host stream.  A channel the guest left enabled when
 * it entered D3hot is paused and resumes on D0.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "hw/audio/es1370.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "paiov/paiov.h"

#define TYPE_ES1370_PAIOV "es1370-paiov"
OBJECT_DECLARE_SIMPLE_TYPE(ES1370PaiovState, ES1370_PAIOV)

/* Where the real ES1370 has its power management capability */
#define ES1370_PAIOV_PM_CAP 0xdc

#define ES1370_CHANNELS_EN (CTRL_DAC1_EN | CTRL_DAC2_EN | CTRL_ADC_EN)

struct ES1370PaiovState {
    ES1370State parent_obj;

    PaiovVPSA vpsa;
    PaiovHost host;
    bool sound;             /* non-silent DAC samples since the last check */
};

typedef struct ES1370PaiovClass {
    ES1370Class parent_class;

    PaiovPCIParent parent;
} ES1370PaiovClass;

DECLARE_CLASS_CHECKERS(ES1370PaiovClass, ES1370_PAIOV, TYPE_ES1370_PAIOV)

/* Activate the voices the guest enabled, or pause all of them */
static void es1370_paiov_voices_run(ES1370State *s, bool run)
{
    static const uint32_t en[] = { CTRL_DAC1_EN, CTRL_DAC2_EN };
    static const uint32_t pause[] = { SCTRL_P1PAUSE, SCTRL_P2PAUSE };
    int i;

    for (i = 0; i < 2; i++) {
        AUD_set_active_out(s->dac_voice[i], run && (s->ctl & en[i]) &&
                           !(s->sctl & pause[i]));
    }
    AUD_set_active_in(s->adc_voice, run && (s->ctl & CTRL_ADC_EN));
}

static void es1370_paiov_power_changed(PaiovVPSA *vpsa, PaiovPowerState old,
                                       PaiovPowerState new)
{
    ES1370PaiovState *ps = container_of(vpsa, ES1370PaiovState, vpsa);

    if (new == PAIOV_POWER_STATE_D3HOT) {
        es1370_paiov_voices_run(&ps->parent_obj, false);
    } else if (old == PAIOV_POWER_STATE_D3HOT) {
        es1370_paiov_voices_run(&ps->parent_obj, true);
    }
}

static bool es1370_paiov_timer_armed(PaiovVPSA *vpsa)
{
    ES1370PaiovState *ps = container_of(vpsa, ES1370PaiovState, vpsa);

    return AUD_is_timer_armed(&ps->parent_obj.card);
}

/* The wakeups it causes: expiries of its audiodev's timer */
static void es1370_paiov_query(PaiovVPSA *vpsa, PaiovDeviceInfo *info)
{
    ES1370PaiovState *ps = container_of(vpsa, ES1370PaiovState, vpsa);

    info->wakeups = AUD_get_timer_ticks(&ps->parent_obj.card);
}

/*
 * Passive idle: a DAC left running that plays only silence.  Register
 * accesses are no sign of use (interrupt handling goes on while silence
 * plays); sound is, and so is a running ADC (recording).
 */
static bool es1370_paiov_activity(PaiovVPSA *vpsa)
{
    ES1370PaiovState *ps = container_of(vpsa, ES1370PaiovState, vpsa);
    bool sound = ps->sound || (ps->parent_obj.ctl & CTRL_ADC_EN);

    ps->sound = false;
    return sound;
}

static void es1370_paiov_dac_fetched(ES1370State *s, const uint8_t *buf,
                                     size_t len)
{
    ES1370PaiovState *ps = ES1370_PAIOV(s);

    if (buffer_is_zero(buf, len)) {
        return;
    }
    ps->sound = true;
    /* the host stream runs again before these samples are written */
    if (ps->vpsa.state == PAIOV_POWER_STATE_PASSIVE_IDLE) {
        paiov_vpsa_wake(&ps->vpsa);
    }
}

/* What the registers say: PMCSR, the channel enables in CONTROL */
static void es1370_paiov_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                                   bool *functions_enabled)
{
    ES1370PaiovState *ps = container_of(vpsa, ES1370PaiovState, vpsa);

    *dstate = paiov_pci_dstate(PCI_DEVICE(ps));
    *functions_enabled = ps->parent_obj.ctl & ES1370_CHANNELS_EN;
}

static const PaiovVPSAOps es1370_paiov_vpsa_ops = {
    .power_changed = es1370_paiov_power_changed,
    .registers = es1370_paiov_registers,
    .functions_registers = "CONTROL (DAC1_EN, DAC2_EN, ADC_EN)",
    .timer_armed = es1370_paiov_timer_armed,
    .query = es1370_paiov_query,
    .activity = es1370_paiov_activity,
    .passive_idle = true,
    .activity_only = true,
    .low_latency = true,
};

/*
 * The I/O BAR: every guest access is counted (and timed) by the virtual
 * PSA, through ES1370Class.io_ops
 */
static uint64_t es1370_paiov_io_read(void *opaque, hwaddr addr,
                                     unsigned size)
{
    ES1370PaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);
    uint64_t val = es1370_io_read(opaque, addr, size);

    paiov_vpsa_access_end(&ps->vpsa, t0);
    return val;
}

static void es1370_paiov_io_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    ES1370PaiovState *ps = opaque;
    ES1370State *s = &ps->parent_obj;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);

    /*
     * Only a full CONTROL write enables channels; the host side must be
     * running before the first sample is due, so leave idle first and
     * enter it only after the voices were stopped.
     */
    if ((addr & 0xff) == ES1370_REG_CONTROL && size == 4 &&
        (val & ES1370_CHANNELS_EN)) {
        paiov_vpsa_set_functions_enabled(&ps->vpsa, true);
    }
    es1370_io_write(opaque, addr, val, size);
    paiov_vpsa_set_functions_enabled(&ps->vpsa,
                                     s->ctl & ES1370_CHANNELS_EN);
    paiov_vpsa_access_end(&ps->vpsa, t0);
}

static const MemoryRegionOps es1370_paiov_io_ops = {
    .read = es1370_paiov_io_read,
    .write = es1370_paiov_io_write,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
    .endianness = DEVICE_LITTLE_ENDIAN,
};

static void es1370_paiov_pm_state_changed(PCIDevice *dev, uint8_t old,
                                           uint8_t new)
{
    paiov_pci_pm_state_changed(&ES1370_PAIOV(dev)->vpsa, new);
}

static void es1370_paiov_realize(PCIDevice *dev, Error **errp)
{
    ES1370PaiovState *ps = ES1370_PAIOV(dev);

    if (!paiov_pci_realize_parent(dev, &ES1370_PAIOV_GET_CLASS(dev)->parent,
                                  ES1370_PAIOV_PM_CAP, &ps->vpsa, &ps->host,
                                  errp)) {
        return;
    }
    ps->host.card = &ps->parent_obj.card;
    paiov_vpsa_realize(&ps->vpsa);
}

static void es1370_paiov_unrealize(PCIDevice *dev)
{
    ES1370PaiovState *ps = ES1370_PAIOV(dev);

    paiov_pci_unrealize(dev, &ES1370_PAIOV_GET_CLASS(dev)->parent, &ps->vpsa,
                        &ps->host);
}

static void es1370_paiov_reset_hold(Object *obj, ResetType type)
{
    paiov_pci_reset_hold(obj, type, &ES1370_PAIOV_GET_CLASS(obj)->parent,
                         &ES1370_PAIOV(obj)->vpsa);
}

static void es1370_paiov_instance_init(Object *obj)
{
    ES1370PaiovState *ps = ES1370_PAIOV(obj);

    paiov_vpsa_init(&ps->vpsa, DEVICE(obj), &es1370_paiov_vpsa_ops);
}

static int es1370_paiov_pre_load(void *opaque)
{
    ES1370PaiovState *ps = opaque;

    paiov_vpsa_pre_load(&ps->vpsa);
    return 0;
}

/* After the registers and the vpsa subsection: check, derive, apply */
static int es1370_paiov_post_load(void *opaque, int version_id)
{
    ES1370PaiovState *ps = opaque;

    return paiov_vpsa_post_load(&ps->vpsa);
}

/* Sent only when the device is not in its reset state (D0, idle) */
PAIOV_VPSA_SUBSECTION(vmstate_es1370_paiov_vpsa, "paiov-es1370/vpsa",
                      ES1370PaiovState, vpsa);

/*
 * Not named "es1370-paiov": the migration core takes a subsection whose
 * name starts with the name of the struct being loaded ("es1370") for one
 * of that struct's own.
 */
static const VMStateDescription vmstate_es1370_paiov = {
    .name = "paiov-es1370",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = es1370_paiov_pre_load,
    .post_load = es1370_paiov_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(parent_obj, ES1370PaiovState, 0, vmstate_es1370,
                       ES1370State),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_es1370_paiov_vpsa,
        NULL
    }
};

static const Property es1370_paiov_properties[] = {
    DEFINE_PAIOV_PROPERTIES(ES1370PaiovState, host),
};

static void es1370_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);
    ES1370Class *ek = ES1370_CLASS(klass);

    ek->io_ops = &es1370_paiov_io_ops;
    ek->dac_fetched = es1370_paiov_dac_fetched;
    pk->pm_state_changed = es1370_paiov_pm_state_changed;
    paiov_pci_class_chain(klass, &ES1370_PAIOV_CLASS(klass)->parent,
                          es1370_paiov_realize, es1370_paiov_unrealize,
                          es1370_paiov_reset_hold);
    dc->desc = "ENSONIQ AudioPCI ES1370 with PCI power management (PAIOV)";
    dc->vmsd = &vmstate_es1370_paiov;
    device_class_set_props(dc, es1370_paiov_properties);
}

static const TypeInfo es1370_paiov_info = {
    .name = TYPE_ES1370_PAIOV,
    .parent = TYPE_ES1370,
    .instance_size = sizeof(ES1370PaiovState),
    .instance_init = es1370_paiov_instance_init,
    .class_size = sizeof(ES1370PaiovClass),
    .class_init = es1370_paiov_class_init,
};

static void es1370_paiov_register_types(void)
{
    type_register_static(&es1370_paiov_info);
}

type_init(es1370_paiov_register_types)
