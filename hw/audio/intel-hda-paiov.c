/*
 * Intel HD Audio with a virtual power state agent (intel-hda-paiov)
 *
 * Controllers: "ich9-intel-hda-paiov" and "intel-hda-paiov", guest-visible
 * as ich9-intel-hda and intel-hda (same IDs, the unmodified guest driver
 * binds) plus a PCI power management capability at 0x50, where the ICH
 * has one (0x60 with old_msi_addr=on, whose MSI capability is at 0x50):
 * D0 and D3hot, no D1/D2, no PME.
 *
 * Codecs: "hda-duplex-paiov", "hda-output-paiov", "hda-micro-paiov", the
 * codecs of the same name with the same verbs and real power states:
 * SET_POWER_STATE on the audio function group and on every widget is
 * kept, GET_POWER_STATE answers with the requested state in bits 3:0
 * (PS-Set) and the actual one in bits 7:4 (PS-Act; a widget is never
 * more awake than its function group).  D0 to D3 are accepted; D3cold
 * and the reserved values are logged (LOG_GUEST_ERROR) and ignored, as
 * are power state verbs for the root node or a node the codec does not
 * have.  While the function group is not in D0, or the controller is in
 * D3hot, the codec's voices do not run.
 *
 * Power states of the controller's virtual PSA (PaiovPowerState):
 * - active: a stream descriptor's RUN bit is set and a codec on the link
 *   has its function group in D0;
 * - passive-idle: active, but the output streams carry only silence;
 * - idle: D0, no stream runs or every codec's function group sleeps;
 * - d3hot: the guest wrote D3hot to PMCSR.
 * The proxy PMA corks (idle) or releases (d3hot) the host streams of
 * every paiov codec on the link: the first one's sound card is the
 * controller's (paiov_host_set_card()), the others' follow it
 * (AUD_set_card_leader()).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "intel-hda.h"
#include "hda-codec.h"
#include "paiov/paiov.h"

#define TYPE_INTEL_HDA_PAIOV "intel-hda-paiov"
#define TYPE_ICH9_INTEL_HDA_PAIOV "ich9-intel-hda-paiov"

/* Where the ICH has its power management capability */
#define INTEL_HDA_PAIOV_PM_CAP 0x50
#define INTEL_HDA_PAIOV_PM_CAP_OLD_MSI 0x60

/* Codec addresses on the link */
#define INTEL_HDA_PAIOV_CODECS 16
/* Node IDs of the QEMU codecs are below this */
#define HDA_PAIOV_NODES 32

typedef struct HDAPaiovCodec HDAPaiovCodec;

typedef struct IntelHDAPaiovState {
    IntelHDAState parent_obj;

    PaiovVPSA vpsa;
    PaiovHost host;
    /* codec addresses whose audio function group is not in D0 */
    uint16_t codecs_off;
    HDAPaiovCodec *card_codec;  /* the codec whose card is host.card */
    bool sound;                 /* non-silent output since the last check */
} IntelHDAPaiovState;

typedef struct IntelHDAPaiovClass {
    IntelHDAClass parent_class;

    PaiovPCIParent parent;
} IntelHDAPaiovClass;

struct HDAPaiovCodec {
    HDAAudioState parent_obj;

    uint8_t power[HDA_PAIOV_NODES];     /* PS-Set of each node, by NID */
    uint32_t afg;                       /* NID of the audio function group */
};

typedef struct HDAPaiovCodecClass {
    HDAAudioClass parent_class;

    void (*parent_init)(HDACodecDevice *dev, Error **errp);
    void (*parent_exit)(HDACodecDevice *dev);
    void (*parent_command)(HDACodecDevice *dev, uint32_t nid, uint32_t data);
    DeviceReset parent_reset;
} HDAPaiovCodecClass;

#define TYPE_HDA_PAIOV_CODEC "hda-paiov-codec"

static IntelHDAPaiovState *intel_hda_paiov_cast(Object *obj)
{
    if (obj && (object_dynamic_cast(obj, TYPE_INTEL_HDA_PAIOV) ||
                object_dynamic_cast(obj, TYPE_ICH9_INTEL_HDA_PAIOV))) {
        return (IntelHDAPaiovState *)obj;
    }
    return NULL;
}

static IntelHDAPaiovClass *intel_hda_paiov_get_class(Object *obj)
{
    return (IntelHDAPaiovClass *)object_get_class(obj);
}

static HDAPaiovCodec *hda_paiov_codec_cast(DeviceState *dev)
{
    const char *types[] = {
        "hda-duplex-paiov", "hda-output-paiov", "hda-micro-paiov"
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(types); i++) {
        if (object_dynamic_cast(OBJECT(dev), types[i])) {
            return (HDAPaiovCodec *)dev;
        }
    }
    return NULL;
}

/* The paiov controller a codec is plugged into, or NULL */
static IntelHDAPaiovState *hda_paiov_controller(HDACodecDevice *hda)
{
    BusState *bus = DEVICE(hda)->parent_bus;

    return bus ? intel_hda_paiov_cast(OBJECT(bus->parent)) : NULL;
}

/* ------------------------------------------------------------------ */
/* controller                                                         */

/* The codec addresses on the link */
static uint16_t intel_hda_paiov_codecs(IntelHDAPaiovState *ps)
{
    BusChild *kid;
    uint16_t mask = 0;

    QTAILQ_FOREACH(kid, &ps->parent_obj.codecs.qbus.children, sibling) {
        HDACodecDevice *cdev = HDA_CODEC_DEVICE(kid->child);

        if (cdev->cad < INTEL_HDA_PAIOV_CODECS) {
            mask |= 1 << cdev->cad;
        }
    }
    return mask;
}

/* A stream runs and a codec is awake to take it */
static bool intel_hda_paiov_busy(IntelHDAPaiovState *ps)
{
    IntelHDAState *d = &ps->parent_obj;
    bool run = false;
    int i;

    for (i = 0; i < ARRAY_SIZE(d->st); i++) {
        run |= d->st[i].ctl & INTEL_HDA_SD_CTL_RUN;
    }
    return run && (!QTAILQ_FIRST(&d->codecs.qbus.children) ||
                   (intel_hda_paiov_codecs(ps) & ~ps->codecs_off));
}

static void intel_hda_paiov_update(IntelHDAPaiovState *ps)
{
    paiov_vpsa_set_functions_enabled(&ps->vpsa, intel_hda_paiov_busy(ps));
}

static void intel_hda_paiov_codecs_update_running(IntelHDAPaiovState *ps)
{
    BusChild *kid;

    QTAILQ_FOREACH(kid, &ps->parent_obj.codecs.qbus.children, sibling) {
        HDAPaiovCodec *c = hda_paiov_codec_cast(kid->child);

        if (c) {
            hda_audio_update_running(&c->parent_obj);
        }
    }
}

static void intel_hda_paiov_power_changed(PaiovVPSA *vpsa,
                                          PaiovPowerState old,
                                          PaiovPowerState new)
{
    IntelHDAPaiovState *ps = container_of(vpsa, IntelHDAPaiovState, vpsa);

    if (new == PAIOV_POWER_STATE_D3HOT || old == PAIOV_POWER_STATE_D3HOT) {
        intel_hda_paiov_codecs_update_running(ps);
    }
}

static bool intel_hda_paiov_timer_armed(PaiovVPSA *vpsa)
{
    IntelHDAPaiovState *ps = container_of(vpsa, IntelHDAPaiovState, vpsa);
    BusChild *kid;
    int i;

    QTAILQ_FOREACH(kid, &ps->parent_obj.codecs.qbus.children, sibling) {
        HDAPaiovCodec *c = hda_paiov_codec_cast(kid->child);

        if (!c) {
            continue;
        }
        if (AUD_is_timer_armed(&c->parent_obj.card)) {
            return true;
        }
        for (i = 0; i < ARRAY_SIZE(c->parent_obj.st); i++) {
            if (c->parent_obj.st[i].node &&
                timer_pending(c->parent_obj.st[i].buft)) {
                return true;
            }
        }
    }
    return false;
}

/* The wakeups it causes: expiries of its codec's audiodev timer */
static void intel_hda_paiov_query(PaiovVPSA *vpsa, PaiovDeviceInfo *info)
{
    IntelHDAPaiovState *ps = container_of(vpsa, IntelHDAPaiovState, vpsa);

    if (ps->host.card) {
        info->wakeups = AUD_get_timer_ticks(ps->host.card);
    }
}

/*
 * Passive idle: output streams left running that carry only silence.
 * Register accesses are no sign of use; sound is, and so is a running
 * input stream (recording).
 */
static bool intel_hda_paiov_activity(PaiovVPSA *vpsa)
{
    IntelHDAPaiovState *ps = container_of(vpsa, IntelHDAPaiovState, vpsa);
    IntelHDAState *d = &ps->parent_obj;
    bool sound = ps->sound;
    int i;

    for (i = 0; i < 4; i++) {
        sound |= d->st[i].ctl & INTEL_HDA_SD_CTL_RUN;
    }
    ps->sound = false;
    return sound;
}

static void intel_hda_paiov_xfer_done(IntelHDAState *d, uint32_t stnr,
                                      bool output, const uint8_t *buf,
                                      uint32_t len)
{
    IntelHDAPaiovState *ps = intel_hda_paiov_cast(OBJECT(d));

    if (!output || !len || buffer_is_zero(buf, len)) {
        return;
    }
    ps->sound = true;
    /* the host stream runs again before these samples are written */
    if (ps->vpsa.state == PAIOV_POWER_STATE_PASSIVE_IDLE) {
        paiov_vpsa_wake(&ps->vpsa);
    }
}

/* A RUN bit changed: before a start reaches the codecs, after a stop */
static void intel_hda_paiov_stream_run(IntelHDAState *d, unsigned index,
                                       bool running)
{
    intel_hda_paiov_update(intel_hda_paiov_cast(OBJECT(d)));
}

/* What the registers say: PMCSR, the RUN bits, the codecs' power */
static void intel_hda_paiov_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                                      bool *functions_enabled)
{
    IntelHDAPaiovState *ps = container_of(vpsa, IntelHDAPaiovState, vpsa);

    *dstate = paiov_pci_dstate(PCI_DEVICE(ps));
    *functions_enabled = intel_hda_paiov_busy(ps);
}

static const PaiovVPSAOps intel_hda_paiov_vpsa_ops = {
    .power_changed = intel_hda_paiov_power_changed,
    .registers = intel_hda_paiov_registers,
    .functions_registers = "SDnCTL (RUN) and the codecs' function group "
                           "power states",
    .timer_armed = intel_hda_paiov_timer_armed,
    .query = intel_hda_paiov_query,
    .activity = intel_hda_paiov_activity,
    .passive_idle = true,
    .activity_only = true,
    .low_latency = true,
};

/*
 * The MMIO BAR: every guest access is counted (and timed) by the virtual
 * PSA, through IntelHDAClass.mmio_ops
 */
static uint64_t intel_hda_paiov_mmio_read(void *opaque, hwaddr addr,
                                          unsigned size)
{
    IntelHDAPaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);
    uint64_t val = intel_hda_mmio_read(opaque, addr, size);

    paiov_vpsa_access_end(&ps->vpsa, t0);
    return val;
}

static void intel_hda_paiov_mmio_write(void *opaque, hwaddr addr,
                                       uint64_t val, unsigned size)
{
    IntelHDAPaiovState *ps = opaque;
    int64_t t0 = paiov_vpsa_access_begin(&ps->vpsa);

    intel_hda_mmio_write(opaque, addr, val, size);
    paiov_vpsa_access_end(&ps->vpsa, t0);
}

static const MemoryRegionOps intel_hda_paiov_mmio_ops = {
    .read = intel_hda_paiov_mmio_read,
    .write = intel_hda_paiov_mmio_write,
    .impl = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
    .endianness = DEVICE_NATIVE_ENDIAN,
};

static void intel_hda_paiov_pm_state_changed(PCIDevice *dev, uint8_t old,
                                              uint8_t new)
{
    paiov_pci_pm_state_changed(&intel_hda_paiov_cast(OBJECT(dev))->vpsa,
                               new);
}

static void intel_hda_paiov_realize(PCIDevice *dev, Error **errp)
{
    IntelHDAPaiovState *ps = intel_hda_paiov_cast(OBJECT(dev));
    IntelHDAPaiovClass *k = intel_hda_paiov_get_class(OBJECT(dev));
    uint8_t cap = ps->parent_obj.old_msi_addr ?
                  INTEL_HDA_PAIOV_PM_CAP_OLD_MSI : INTEL_HDA_PAIOV_PM_CAP;

    if (!paiov_pci_realize_parent(dev, &k->parent, cap, &ps->vpsa,
                                  &ps->host, errp)) {
        return;
    }
    paiov_vpsa_realize(&ps->vpsa);
}

static void intel_hda_paiov_unrealize(PCIDevice *dev)
{
    IntelHDAPaiovState *ps = intel_hda_paiov_cast(OBJECT(dev));

    paiov_pci_unrealize(dev, &intel_hda_paiov_get_class(OBJECT(dev))->parent,
                        &ps->vpsa, &ps->host);
}

static void intel_hda_paiov_reset_hold(Object *obj, ResetType type)
{
    IntelHDAPaiovState *ps = intel_hda_paiov_cast(obj);

    ps->codecs_off = 0;
    paiov_pci_reset_hold(obj, type, &intel_hda_paiov_get_class(obj)->parent,
                         &ps->vpsa);
}

static void intel_hda_paiov_instance_init(Object *obj)
{
    IntelHDAPaiovState *ps = intel_hda_paiov_cast(obj);

    paiov_vpsa_init(&ps->vpsa, DEVICE(obj), &intel_hda_paiov_vpsa_ops);
}

static int intel_hda_paiov_pre_load(void *opaque)
{
    IntelHDAPaiovState *ps = opaque;

    ps->codecs_off = 0;
    paiov_vpsa_pre_load(&ps->vpsa);
    return 0;
}

/* After the registers and the subsections: check, derive, apply */
static int intel_hda_paiov_post_load(void *opaque, int version_id)
{
    IntelHDAPaiovState *ps = opaque;
    uint16_t stray = ps->codecs_off & ~intel_hda_paiov_codecs(ps);

    if (stray) {
        error_report("%s: migration: function groups in low power on codec "
                     "addresses 0x%x, which have no codec",
                     object_get_typename(OBJECT(ps)), stray);
        return -EINVAL;
    }
    return paiov_vpsa_post_load(&ps->vpsa);
}

/* Sent only when the device is not in its reset state (D0, idle) */
PAIOV_VPSA_SUBSECTION(vmstate_intel_hda_paiov_vpsa, "paiov-intel-hda/vpsa",
                      IntelHDAPaiovState, vpsa);

static bool intel_hda_paiov_codecs_needed(void *opaque)
{
    return ((IntelHDAPaiovState *)opaque)->codecs_off;
}

static const VMStateDescription vmstate_intel_hda_paiov_codecs = {
    .name = "paiov-intel-hda/codecs",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = intel_hda_paiov_codecs_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(codecs_off, IntelHDAPaiovState),
        VMSTATE_END_OF_LIST()
    }
};

/* Not named "intel-hda-paiov": see vmstate_es1370_paiov */
static const VMStateDescription vmstate_intel_hda_paiov = {
    .name = "paiov-intel-hda",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = intel_hda_paiov_pre_load,
    .post_load = intel_hda_paiov_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(parent_obj, IntelHDAPaiovState, 0, vmstate_intel_hda,
                       IntelHDAState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_intel_hda_paiov_vpsa,
        &vmstate_intel_hda_paiov_codecs,
        NULL
    }
};

static const Property intel_hda_paiov_properties[] = {
    DEFINE_PAIOV_PROPERTIES(IntelHDAPaiovState, host),
};

static void intel_hda_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);
    IntelHDAClass *hk = INTEL_HDA_CLASS(klass);

    hk->mmio_ops = &intel_hda_paiov_mmio_ops;
    hk->stream_run = intel_hda_paiov_stream_run;
    hk->xfer_done = intel_hda_paiov_xfer_done;
    pk->pm_state_changed = intel_hda_paiov_pm_state_changed;
    paiov_pci_class_chain(klass, &((IntelHDAPaiovClass *)klass)->parent,
                          intel_hda_paiov_realize, intel_hda_paiov_unrealize,
                          intel_hda_paiov_reset_hold);
    dc->desc = data;
    dc->vmsd = &vmstate_intel_hda_paiov;
    device_class_set_props(dc, intel_hda_paiov_properties);
}

/* ------------------------------------------------------------------ */
/* codecs                                                             */

static bool hda_paiov_node_is_afg(const desc_node *node)
{
    int i;

    for (i = 0; i < node->nparams; i++) {
        if (node->params[i].id == AC_PAR_FUNCTION_TYPE) {
            return (node->params[i].val & 0xff) == AC_GRP_AUDIO_FUNCTION;
        }
    }
    return false;
}

/* The function group sleeps (not D0), or the controller is in D3hot */
static bool hda_paiov_codec_off(HDAPaiovCodec *c)
{
    IntelHDAPaiovState *ps = hda_paiov_controller(HDA_CODEC_DEVICE(c));

    return c->power[c->afg] != AC_PWRST_D0 ||
           (ps && ps->vpsa.dstate == 3);
}

static bool hda_paiov_stream_may_run(HDAAudioState *a, HDAAudioStream *st)
{
    HDAPaiovCodec *c = container_of(a, HDAPaiovCodec, parent_obj);

    return !hda_paiov_codec_off(c);
}

/* Tell the controller whether the function group sleeps */
static void hda_paiov_codec_report(HDAPaiovCodec *c)
{
    HDACodecDevice *hda = HDA_CODEC_DEVICE(c);
    IntelHDAPaiovState *ps = hda_paiov_controller(hda);

    if (!ps || hda->cad >= INTEL_HDA_PAIOV_CODECS) {
        return;
    }
    if (c->power[c->afg] != AC_PWRST_D0) {
        ps->codecs_off |= 1 << hda->cad;
    } else {
        ps->codecs_off &= ~(1 << hda->cad);
    }
    intel_hda_paiov_update(ps);
}

/* PS-Act of @nid: a widget is never more awake than its function group */
static uint8_t hda_paiov_actual(HDAPaiovCodec *c, uint32_t nid)
{
    return MAX(c->power[nid], c->power[c->afg]);
}

static void hda_paiov_command(HDACodecDevice *hda, uint32_t nid,
                              uint32_t data)
{
    HDAPaiovCodec *c = hda_paiov_codec_cast(DEVICE(hda));
    HDAPaiovCodecClass *k = (HDAPaiovCodecClass *)object_get_class(
                                OBJECT(hda));
    uint32_t verb = (data >> 8) & 0xfff;
    uint32_t payload = data & 0xff;
    const desc_node *node;
    uint8_t ps;

    if ((data & 0x70000) != 0x70000 ||
        (verb != AC_VERB_SET_POWER_STATE && verb != AC_VERB_GET_POWER_STATE)) {
        k->parent_command(hda, nid, data);
        return;
    }

    node = hda_codec_find_node(c->parent_obj.desc, nid);
    if (!node || nid == AC_NODE_ROOT || nid >= HDA_PAIOV_NODES) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: power state verb 0x%x for "
                      "node %u, which has no power state\n",
                      object_get_typename(OBJECT(hda)), verb, nid);
        hda_codec_response(hda, true, 0);
        return;
    }
    if (verb == AC_VERB_GET_POWER_STATE) {
        hda_codec_response(hda, true, c->power[nid] |
                           hda_paiov_actual(c, nid) << AC_PWRST_ACTUAL_SHIFT);
        return;
    }

    ps = payload & AC_PWRST_SETTING;
    if (payload & ~AC_PWRST_SETTING || ps > AC_PWRST_D3) {
        /* D3cold (4) is not supported, 5 to 15 are reserved */
        qemu_log_mask(LOG_GUEST_ERROR, "%s: node %u: power state 0x%x is "
                      "reserved or not supported, ignored\n",
                      object_get_typename(OBJECT(hda)), nid, payload);
        hda_codec_response(hda, true, 0);
        return;
    }
    c->power[nid] = ps;
    if (nid == c->afg) {
        hda_audio_update_running(&c->parent_obj);
        hda_paiov_codec_report(c);
    }
    hda_codec_response(hda, true, 0);
}

static void hda_paiov_codec_init(HDACodecDevice *hda, Error **errp)
{
    HDAPaiovCodec *c = hda_paiov_codec_cast(DEVICE(hda));
    HDAPaiovCodecClass *k = (HDAPaiovCodecClass *)object_get_class(
                                OBJECT(hda));
    IntelHDAPaiovState *ps = hda_paiov_controller(hda);
    const desc_codec *desc;
    uint32_t i;

    k->parent_init(hda, errp);
    if (!c->parent_obj.desc) {
        return;
    }
    desc = c->parent_obj.desc;
    c->afg = 1;
    for (i = 0; i < desc->nnodes; i++) {
        assert(desc->nodes[i].nid < HDA_PAIOV_NODES);
        if (hda_paiov_node_is_afg(&desc->nodes[i])) {
            c->afg = desc->nodes[i].nid;
        }
    }
    if (ps && !ps->card_codec) {
        ps->card_codec = c;
        paiov_host_set_card(&ps->host, &c->parent_obj.card);
    } else if (ps) {
        /* the other codecs' cards follow the controller's host power */
        AUD_set_card_leader(&c->parent_obj.card,
                            &ps->card_codec->parent_obj.card);
    }
    if (ps) {
        intel_hda_paiov_update(ps);
    }
}

/*
 * The codec whose card is the controller's goes: another paiov codec's
 * card takes its place, the rest follow that one
 */
static void hda_paiov_codec_pass_card(IntelHDAPaiovState *ps,
                                      HDAPaiovCodec *gone)
{
    HDAPaiovCodec *next = NULL;
    BusChild *kid;

    QTAILQ_FOREACH(kid, &ps->parent_obj.codecs.qbus.children, sibling) {
        HDAPaiovCodec *c = hda_paiov_codec_cast(kid->child);

        if (c && c != gone) {
            AUD_set_card_leader(&c->parent_obj.card, NULL);
            next = next ?: c;
        }
    }
    QTAILQ_FOREACH(kid, &ps->parent_obj.codecs.qbus.children, sibling) {
        HDAPaiovCodec *c = hda_paiov_codec_cast(kid->child);

        if (c && c != gone && c != next) {
            AUD_set_card_leader(&c->parent_obj.card, &next->parent_obj.card);
        }
    }
    ps->card_codec = next;
    paiov_host_set_card(&ps->host, next ? &next->parent_obj.card : NULL);
}

static void hda_paiov_codec_exit(HDACodecDevice *hda)
{
    HDAPaiovCodec *c = hda_paiov_codec_cast(DEVICE(hda));
    HDAPaiovCodecClass *k = (HDAPaiovCodecClass *)object_get_class(
                                OBJECT(hda));
    IntelHDAPaiovState *ps = hda_paiov_controller(hda);

    if (ps && ps->card_codec == c) {
        hda_paiov_codec_pass_card(ps, c);
    }
    if (ps && hda->cad < INTEL_HDA_PAIOV_CODECS) {
        ps->codecs_off &= ~(1 << hda->cad);
    }
    k->parent_exit(hda);
}

static void hda_paiov_codec_reset(DeviceState *dev)
{
    HDAPaiovCodec *c = hda_paiov_codec_cast(dev);
    HDAPaiovCodecClass *k = (HDAPaiovCodecClass *)object_get_class(
                                OBJECT(dev));

    memset(c->power, 0, sizeof(c->power));
    k->parent_reset(dev);
    hda_paiov_codec_report(c);
}

static int hda_paiov_codec_pre_load(void *opaque)
{
    HDAPaiovCodec *c = opaque;

    memset(c->power, 0, sizeof(c->power));
    return 0;
}

/* After the codec's state and its power states: check, then run */
static int hda_paiov_codec_post_load(void *opaque, int version_id)
{
    HDAPaiovCodec *c = opaque;
    HDACodecDevice *hda = HDA_CODEC_DEVICE(c);
    IntelHDAPaiovState *ps = hda_paiov_controller(hda);
    const char *name = object_get_typename(OBJECT(c));
    uint32_t nid;

    for (nid = 0; nid < HDA_PAIOV_NODES; nid++) {
        if (c->power[nid] > AC_PWRST_D3) {
            error_report("%s: migration: node %u: power state 0x%x out of "
                         "range", name, nid, c->power[nid]);
            return -EINVAL;
        }
        if (c->power[nid] &&
            (nid == AC_NODE_ROOT ||
             !hda_codec_find_node(c->parent_obj.desc, nid))) {
            error_report("%s: migration: power state for node %u, which "
                         "has none", name, nid);
            return -EINVAL;
        }
    }
    if (ps && hda->cad < INTEL_HDA_PAIOV_CODECS &&
        !!(ps->codecs_off & (1 << hda->cad)) !=
        (c->power[c->afg] != AC_PWRST_D0)) {
        error_report("%s: migration: function group power state D%u "
                     "disagrees with the controller's", name,
                     c->power[c->afg]);
        return -EINVAL;
    }
    hda_audio_update_running(&c->parent_obj);
    return 0;
}

static bool hda_paiov_codec_power_needed(void *opaque)
{
    HDAPaiovCodec *c = opaque;

    return !buffer_is_zero(c->power, sizeof(c->power));
}

static const VMStateDescription vmstate_hda_paiov_codec_power = {
    .name = "paiov-hda-audio/power",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = hda_paiov_codec_power_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(power, HDAPaiovCodec, HDA_PAIOV_NODES),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_hda_paiov_codec = {
    .name = "paiov-hda-audio",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = hda_paiov_codec_pre_load,
    .post_load = hda_paiov_codec_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(parent_obj, HDAPaiovCodec, 0, vmstate_hda_audio,
                       HDAAudioState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_hda_paiov_codec_power,
        NULL
    }
};

/* QOM "function-group-power": PS-Act of the audio function group */
static void hda_paiov_codec_get_power(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    HDAPaiovCodec *c = hda_paiov_codec_cast(DEVICE(obj));
    uint8_t ps = c->power[c->afg];

    visit_type_uint8(v, name, &ps, errp);
}

static void hda_paiov_codec_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    HDACodecDeviceClass *ck = HDA_CODEC_DEVICE_CLASS(klass);
    HDAAudioClass *ak = HDA_AUDIO_CLASS(klass);
    HDAPaiovCodecClass *k = (HDAPaiovCodecClass *)klass;

    k->parent_init = ck->init;
    k->parent_exit = ck->exit;
    k->parent_command = ck->command;
    k->parent_reset = dc->legacy_reset;
    ck->init = hda_paiov_codec_init;
    ck->exit = hda_paiov_codec_exit;
    ck->command = hda_paiov_command;
    ak->stream_may_run = hda_paiov_stream_may_run;
    /*
     * The host stream may take nothing for a while after it is uncorked:
     * wait for it instead of dropping the 46 ms the codec holds
     */
    ak->keep_on_overrun = true;
    /*
     * Linux stops a stream just after its DMA position reached the end:
     * play what the codec fetched (up to 46 ms) instead of dropping it.
     * The virtual PSA goes idle at the stop all the same (no stream
     * runs); the host stream is not corked under the tail, as the audio
     * core keeps a host stream running while one of its voices is active
     * and applies the cork once the voice is disabled and its mix buffer
     * played out.
     */
    ak->drain_on_stop = true;
    device_class_set_legacy_reset(dc, hda_paiov_codec_reset);
    dc->desc = data;
    dc->vmsd = &vmstate_hda_paiov_codec;
    object_class_property_add(klass, "function-group-power", "uint8",
                              hda_paiov_codec_get_power, NULL, NULL, NULL);
    object_class_property_set_description(klass, "function-group-power",
        "power state of the audio function group (0: D0 to 3: D3)");
}

/* ------------------------------------------------------------------ */

#define INTEL_HDA_PAIOV_TYPE(_name, _parent, _desc)                     \
    {                                                                   \
        .name = _name,                                                  \
        .parent = _parent,                                              \
        .instance_size = sizeof(IntelHDAPaiovState),                    \
        .instance_init = intel_hda_paiov_instance_init,                 \
        .class_size = sizeof(IntelHDAPaiovClass),                       \
        .class_init = intel_hda_paiov_class_init,                       \
        .class_data = (void *)_desc,                                    \
    }

#define HDA_PAIOV_CODEC_TYPE(_name, _parent, _desc)                     \
    {                                                                   \
        .name = _name,                                                  \
        .parent = _parent,                                              \
        .instance_size = sizeof(HDAPaiovCodec),                         \
        .class_size = sizeof(HDAPaiovCodecClass),                       \
        .class_init = hda_paiov_codec_class_init,                       \
        .class_data = (void *)_desc,                                    \
    }

static const TypeInfo intel_hda_paiov_types[] = {
    INTEL_HDA_PAIOV_TYPE(TYPE_ICH9_INTEL_HDA_PAIOV, "ich9-intel-hda",
                         "Intel HD Audio Controller (ich9) with PCI power "
                         "management (PAIOV)"),
    INTEL_HDA_PAIOV_TYPE(TYPE_INTEL_HDA_PAIOV, "intel-hda",
                         "Intel HD Audio Controller (ich6) with PCI power "
                         "management (PAIOV)"),
    HDA_PAIOV_CODEC_TYPE("hda-duplex-paiov", "hda-duplex",
                         "HDA Audio Codec, duplex (line-out, line-in), "
                         "with power states (PAIOV)"),
    HDA_PAIOV_CODEC_TYPE("hda-output-paiov", "hda-output",
                         "HDA Audio Codec, output-only (line-out), "
                         "with power states (PAIOV)"),
    HDA_PAIOV_CODEC_TYPE("hda-micro-paiov", "hda-micro",
                         "HDA Audio Codec, duplex (speaker, microphone), "
                         "with power states (PAIOV)"),
};

DEFINE_TYPES(intel_hda_paiov_types)
