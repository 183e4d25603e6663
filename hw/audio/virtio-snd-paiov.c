/*
 * virtio-sound-pci with a virtual power state agent
 * (virtio-sound-pci-paiov)
 *
 * Guest-visible as virtio-sound-pci (same IDs, configuration and queues:
 * the unmodified guest driver binds), plus a PCI power management
 * capability: D0 and D3hot, no D1/D2, no PME.  Behind a PCI Express port
 * virtio-pci has one of its own (x-pcie-pm-init), which is used instead.
 *
 * Power states (see PaiovPowerState in qapi/paiov.json):
 * - active: a PCM stream is started (VIRTIO_SND_R_PCM_START);
 * - idle: D0, no stream started;
 * - d3hot: the guest wrote D3hot to PMCSR.
 * In idle and d3hot no voice is active, so the audio timer stops once the
 * samples QEMU buffered are played out; the proxy PMA then corks (idle) or
 * releases (d3hot) the host streams, after what they hold is played out.
 * A stream the guest RELEASEs (Linux does when a program closes the PCM)
 * keeps its voice, as stock virtio-sound does: closing it there cut off
 * the end of every sound, what the host stream still held.  The idle
 * device's host streams are corked or released as the proxy PMA's
 * audio-idle says.  A released stream starts only after a new PREPARE.
 * A stream left started when the guest entered D3hot is paused and
 * resumes on D0; a device reset stops every stream.
 *
 * PCM requests the virtio sound specification does not allow in the
 * stream's state (and stream ids out of range) are logged as guest errors
 * and answered VIRTIO_SND_S_BAD_MSG without effect.
 *
 * virtio-sound-device is not migratable (its vmstate is unmigratable), and
 * so neither is this device.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "hw/audio/virtio-snd-pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "paiov/paiov.h"

#define TYPE_VIRTIO_SND_PAIOV "virtio-sound-device-paiov"
#define TYPE_VIRTIO_SND_PCI_PAIOV "virtio-sound-pci-paiov"
OBJECT_DECLARE_TYPE(VirtIOSoundPCIPaiov, VirtIOSoundPCIPaiovClass,
                    VIRTIO_SND_PCI_PAIOV)

/*
 * The PM capability on conventional PCI, at the top of configuration
 * space: virtio-pci places its own capabilities below it
 */
#define VIRTIO_SND_PAIOV_PM_CAP 0xf8

struct VirtIOSoundPCIPaiov {
    VirtIOSoundPCI parent_obj;

    PaiovVPSA vpsa;
    PaiovHost host;
    unsigned long *prepared;    /* streams PREPAREd and not RELEASEd */
};

struct VirtIOSoundPCIPaiovClass {
    VirtIOSoundPCIClass parent_class;

    PaiovPCIParent parent;
};

/* The sound device embedded in a virtio-sound-pci-paiov */
typedef struct VirtIOSoundPaiovClass {
    VirtIOSoundClass parent_class;

    void (*parent_reset)(VirtIODevice *vdev);
} VirtIOSoundPaiovClass;

DECLARE_CLASS_CHECKERS(VirtIOSoundPaiovClass, VIRTIO_SND_PAIOV,
                       TYPE_VIRTIO_SND_PAIOV)

static VirtIOSoundPCIPaiov *virtio_snd_paiov_proxy(VirtIOSound *s)
{
    return VIRTIO_SND_PCI_PAIOV(container_of(s, VirtIOSoundPCI, vdev));
}

static VirtIOSoundPCMStream *virtio_snd_paiov_stream(VirtIOSound *s,
                                                     uint32_t id)
{
    return s->pcm && s->pcm->streams && id < s->snd_conf.streams ?
           s->pcm->streams[id] : NULL;
}

static bool virtio_snd_paiov_any_started(VirtIOSound *s)
{
    VirtIOSoundPCMStream *stream;
    uint32_t i;

    for (i = 0; i < s->snd_conf.streams; i++) {
        stream = virtio_snd_paiov_stream(s, i);
        if (stream && stream->active) {
            return true;
        }
    }
    return false;
}

/*
 * The sound device reports its streams from the time the proxy realized
 * the virtual PSA until the proxy unrealizes it (the sound device may run
 * queued requests while it is unrealized after that)
 */
static void virtio_snd_paiov_functions(VirtIOSound *s, bool started)
{
    PaiovVPSA *vpsa = &virtio_snd_paiov_proxy(s)->vpsa;

    if (paiov_vpsa_realized(vpsa)) {
        paiov_vpsa_set_functions_enabled(vpsa, started);
    }
}

static bool virtio_snd_paiov_prepared(VirtIOSound *s, uint32_t id)
{
    VirtIOSoundPCIPaiov *ps = virtio_snd_paiov_proxy(s);

    return ps->prepared && id < s->snd_conf.streams &&
           test_bit(id, ps->prepared);
}

/* Activate the voices of the started streams, or pause all of them */
static void virtio_snd_paiov_voices_run(VirtIOSound *s, bool run)
{
    VirtIOSoundPCMStream *stream;
    uint32_t i;

    for (i = 0; i < s->snd_conf.streams; i++) {
        stream = virtio_snd_paiov_stream(s, i);
        if (!stream) {
            continue;
        }
        if (stream->info.direction == VIRTIO_SND_D_OUTPUT) {
            AUD_set_active_out(stream->voice.out, run && stream->active);
        } else {
            AUD_set_active_in(stream->voice.in, run && stream->active);
        }
    }
}

static const char *virtio_snd_paiov_code(uint32_t code)
{
    switch (code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        return "SET_PARAMS";
    case VIRTIO_SND_R_PCM_PREPARE:
        return "PREPARE";
    case VIRTIO_SND_R_PCM_RELEASE:
        return "RELEASE";
    case VIRTIO_SND_R_PCM_START:
        return "START";
    default:
        return "STOP";
    }
}

/*
 * A PCM request, before the device acts on it: refuse what the stream's
 * state does not allow (virtio 1.2, 5.14.6.6.1); leave idle before a
 * START, so that the host stream runs before the first period is due.
 */
static bool virtio_snd_paiov_pcm_request(VirtIOSound *s, uint32_t code,
                                         uint32_t stream_id)
{
    VirtIOSoundPCMStream *stream = virtio_snd_paiov_stream(s, stream_id);
    const char *why = NULL;

    if (!stream) {
        why = "no such stream";
    } else if (code == VIRTIO_SND_R_PCM_START) {
        if (stream->active) {
            why = "stream already started";
        } else if (!virtio_snd_paiov_prepared(s, stream_id)) {
            why = "stream released, not prepared";
        }
    } else if (code == VIRTIO_SND_R_PCM_STOP) {
        if (!stream->active) {
            why = "stream not started";
        }
    } else if (stream->active) {
        why = "stream started, STOP it first";
    }
    if (why) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: PCM %s of stream %" PRIu32 ": %s, ignored\n",
                      TYPE_VIRTIO_SND_PCI_PAIOV, virtio_snd_paiov_code(code),
                      stream_id, why);
        return false;
    }
    if (code == VIRTIO_SND_R_PCM_START) {
        virtio_snd_paiov_functions(s, true);
    }
    return true;
}

/* After the request: the streams as the device left them */
static void virtio_snd_paiov_pcm_done(VirtIOSound *s, uint32_t code,
                                      uint32_t stream_id, uint32_t status)
{
    VirtIOSoundPCIPaiov *ps = virtio_snd_paiov_proxy(s);

    if (status == VIRTIO_SND_S_OK && ps->prepared &&
        stream_id < s->snd_conf.streams) {
        if (code == VIRTIO_SND_R_PCM_PREPARE) {
            set_bit(stream_id, ps->prepared);
        } else if (code == VIRTIO_SND_R_PCM_RELEASE) {
            clear_bit(stream_id, ps->prepared);
        }
    }
    virtio_snd_paiov_functions(s, virtio_snd_paiov_any_started(s));
}

/* A device reset (driver unbound, reboot) stops every stream */
static void virtio_snd_paiov_reset(VirtIODevice *vdev)
{
    VirtIOSound *s = VIRTIO_SND(vdev);
    VirtIOSoundPCIPaiov *ps = virtio_snd_paiov_proxy(s);
    VirtIOSoundPCMStream *stream;
    uint32_t i;

    VIRTIO_SND_PAIOV_GET_CLASS(vdev)->parent_reset(vdev);
    for (i = 0; i < s->snd_conf.streams; i++) {
        stream = virtio_snd_paiov_stream(s, i);
        if (stream) {
            WITH_QEMU_LOCK_GUARD(&stream->queue_mutex) {
                stream->active = false;
            }
        }
    }
    virtio_snd_paiov_voices_run(s, false);
    virtio_snd_paiov_functions(s, false);
    if (ps->prepared) {
        bitmap_zero(ps->prepared, s->snd_conf.streams);
    }
}

static void virtio_snd_paiov_power_changed(PaiovVPSA *vpsa,
                                           PaiovPowerState old,
                                           PaiovPowerState new)
{
    VirtIOSoundPCIPaiov *ps = container_of(vpsa, VirtIOSoundPCIPaiov, vpsa);

    if (new == PAIOV_POWER_STATE_D3HOT) {
        virtio_snd_paiov_voices_run(&ps->parent_obj.vdev, false);
    } else if (old == PAIOV_POWER_STATE_D3HOT) {
        virtio_snd_paiov_voices_run(&ps->parent_obj.vdev, true);
    }
}

static bool virtio_snd_paiov_timer_armed(PaiovVPSA *vpsa)
{
    VirtIOSoundPCIPaiov *ps = container_of(vpsa, VirtIOSoundPCIPaiov, vpsa);

    return AUD_is_timer_armed(&ps->parent_obj.vdev.card);
}

/* The wakeups it causes: expiries of its audiodev's timer */
static void virtio_snd_paiov_query(PaiovVPSA *vpsa, PaiovDeviceInfo *info)
{
    VirtIOSoundPCIPaiov *ps = container_of(vpsa, VirtIOSoundPCIPaiov, vpsa);

    info->wakeups = AUD_get_timer_ticks(&ps->parent_obj.vdev.card);
}

/* What the device says: PMCSR, the started streams */
static void virtio_snd_paiov_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                                       bool *functions_enabled)
{
    VirtIOSoundPCIPaiov *ps = container_of(vpsa, VirtIOSoundPCIPaiov, vpsa);

    *dstate = paiov_pci_dstate(PCI_DEVICE(ps));
    *functions_enabled = virtio_snd_paiov_any_started(&ps->parent_obj.vdev);
}

static const PaiovVPSAOps virtio_snd_paiov_vpsa_ops = {
    .power_changed = virtio_snd_paiov_power_changed,
    .registers = virtio_snd_paiov_registers,
    .functions_registers = "PCM stream states (START, STOP)",
    .timer_armed = virtio_snd_paiov_timer_armed,
    .query = virtio_snd_paiov_query,
    .low_latency = true,
};

static void virtio_snd_pci_paiov_pm_state_changed(PCIDevice *dev,
                                                  uint8_t old, uint8_t new)
{
    paiov_pci_pm_state_changed(&VIRTIO_SND_PCI_PAIOV(dev)->vpsa, new);
}

static void virtio_snd_pci_paiov_realize(PCIDevice *dev, Error **errp)
{
    VirtIOSoundPCIPaiov *ps = VIRTIO_SND_PCI_PAIOV(dev);
    const PaiovPCIParent *parent = &VIRTIO_SND_PCI_PAIOV_GET_CLASS(dev)->parent;
    PCIBus *bus = pci_get_bus(dev);
    Error *local_err = NULL;

    /*
     * As virtio_pci_realize() decides: a modern function on a PCI Express
     * port (virtio_pci_dc_realize() marks every modern one express first)
     */
    if (!pci_is_express(dev) || !pci_bus_is_express(bus) ||
        pci_bus_is_root(bus)) {
        if (!paiov_pci_realize_parent(dev, parent, VIRTIO_SND_PAIOV_PM_CAP,
                                      &ps->vpsa, &ps->host, errp)) {
            return;
        }
    } else {
        /* virtio-pci adds the PM capability of a PCI Express function */
        if (!paiov_host_attach(&ps->host, &ps->vpsa, errp)) {
            return;
        }
        parent->realize(dev, &local_err);
        if (local_err) {
            paiov_host_detach(&ps->host);
            error_propagate(errp, local_err);
            return;
        }
    }
    ps->host.card = &ps->parent_obj.vdev.card;
    ps->prepared = bitmap_new(ps->parent_obj.vdev.snd_conf.streams);
    paiov_vpsa_realize(&ps->vpsa);
}

static void virtio_snd_pci_paiov_unrealize(PCIDevice *dev)
{
    VirtIOSoundPCIPaiov *ps = VIRTIO_SND_PCI_PAIOV(dev);

    paiov_pci_unrealize(dev, &VIRTIO_SND_PCI_PAIOV_GET_CLASS(dev)->parent,
                        &ps->vpsa, &ps->host);
    g_free(ps->prepared);
    ps->prepared = NULL;
}

static void virtio_snd_pci_paiov_reset_hold(Object *obj, ResetType type)
{
    paiov_pci_reset_hold(obj, type,
                         &VIRTIO_SND_PCI_PAIOV_GET_CLASS(obj)->parent,
                         &VIRTIO_SND_PCI_PAIOV(obj)->vpsa);
}

static void virtio_snd_pci_paiov_instance_init(Object *obj)
{
    VirtIOSoundPCIPaiov *ps = VIRTIO_SND_PCI_PAIOV(obj);

    paiov_vpsa_init(&ps->vpsa, DEVICE(obj), &virtio_snd_paiov_vpsa_ops);
}

static const Property virtio_snd_pci_paiov_properties[] = {
    DEFINE_PAIOV_PROPERTIES(VirtIOSoundPCIPaiov, host),
};

static void virtio_snd_pci_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);

    VIRTIO_SND_PCI_CLASS(klass)->vdev_type = TYPE_VIRTIO_SND_PAIOV;
    pk->pm_state_changed = virtio_snd_pci_paiov_pm_state_changed;
    paiov_pci_class_chain(klass, &VIRTIO_SND_PCI_PAIOV_CLASS(klass)->parent,
                          virtio_snd_pci_paiov_realize,
                          virtio_snd_pci_paiov_unrealize,
                          virtio_snd_pci_paiov_reset_hold);
    dc->desc = "Virtio Sound with PCI power management (PAIOV)";
    device_class_set_props(dc, virtio_snd_pci_paiov_properties);
}

static void virtio_snd_paiov_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);
    VirtIOSoundClass *vsc = VIRTIO_SND_CLASS(klass);

    VIRTIO_SND_PAIOV_CLASS(klass)->parent_reset = vdc->reset;
    vdc->reset = virtio_snd_paiov_reset;
    vsc->pcm_request = virtio_snd_paiov_pcm_request;
    vsc->pcm_done = virtio_snd_paiov_pcm_done;
    /* only inside a virtio-sound-pci-paiov */
    dc->user_creatable = false;
}

static const TypeInfo virtio_snd_paiov_types[] = {
    {
        .name = TYPE_VIRTIO_SND_PAIOV,
        .parent = TYPE_VIRTIO_SND,
        .instance_size = sizeof(VirtIOSound),
        .class_size = sizeof(VirtIOSoundPaiovClass),
        .class_init = virtio_snd_paiov_class_init,
    },
    {
        .name = TYPE_VIRTIO_SND_PCI_PAIOV,
        .parent = TYPE_VIRTIO_SND_PCI,
        .instance_size = sizeof(VirtIOSoundPCIPaiov),
        .instance_init = virtio_snd_pci_paiov_instance_init,
        .class_size = sizeof(VirtIOSoundPCIPaiovClass),
        .class_init = virtio_snd_pci_paiov_class_init,
    },
};

DEFINE_TYPES(virtio_snd_paiov_types)
