/*
 * PAIOV proxy power management agent (proxy PMA)
 *
 * One proxy PMA serves the paiov devices of a VM (a default one is created
 * for devices that name none).  It turns the states of their virtual PSAs
 * into requests to the host PM framework: for audio, the device's host
 * sound stream is corked when the device is idle and released in D3hot,
 * so that PulseAudio's module-suspend-on-idle can suspend the sink.  It
 * never suspends a sink itself: other programs may be using it.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-paiov.h"
#include "qom/object_interfaces.h"
#include "hw/qdev-core.h"
#include "paiov/paiov.h"
#include "trace.h"

struct PaiovPMA {
    Object parent_obj;

    PaiovAudioAction audio_idle;
    PaiovAudioAction audio_d3hot;
};

static const char *const paiov_audio_level_names[] = {
    [AUDIO_HOST_POWER_RUNNING] = "run",
    [AUDIO_HOST_POWER_CORKED] = "cork",
    [AUDIO_HOST_POWER_RELEASED] = "release",
};

static AudioHostPower paiov_audio_level(PaiovAudioAction action)
{
    switch (action) {
    case PAIOV_AUDIO_ACTION_CORK:
        return AUDIO_HOST_POWER_CORKED;
    case PAIOV_AUDIO_ACTION_RELEASE:
        return AUDIO_HOST_POWER_RELEASED;
    default:
        return AUDIO_HOST_POWER_RUNNING;
    }
}

static void paiov_pma_audio(PaiovPMA *pma, PaiovVPSA *vpsa,
                            PaiovPowerState state)
{
    PaiovHostRecord *rec = &vpsa->audio;
    const char *dev = object_get_typename(OBJECT(vpsa->dev));
    AudioHostPower level;
    Error *err = NULL;
    int ret;

    switch (state) {
    case PAIOV_POWER_STATE_IDLE:
        level = paiov_audio_level(pma->audio_idle);
        break;
    case PAIOV_POWER_STATE_D3HOT:
        level = paiov_audio_level(pma->audio_d3hot);
        break;
    default:
        level = AUDIO_HOST_POWER_RUNNING;
        break;
    }

    rec->action = paiov_audio_level_names[level];
    rec->level = level;
    rec->requests++;
    g_free(rec->error);
    rec->error = NULL;

    ret = AUD_set_host_power(vpsa->card, level, &err);
    trace_paiov_pma_host_request(dev, "audio", rec->action, ret);
    switch (ret) {
    case 0:
    case -EINPROGRESS:
        rec->result = PAIOV_HOST_ACTION_RESULT_PENDING;
        paiov_pma_refresh(pma, vpsa);
        break;
    case -ENOTSUP:
        rec->result = PAIOV_HOST_ACTION_RESULT_UNSUPPORTED;
        break;
    default:
        rec->result = PAIOV_HOST_ACTION_RESULT_FAILED;
        rec->failures++;
        rec->error = g_strdup(err ? error_get_pretty(err) : strerror(-ret));
        trace_paiov_pma_host_failed(dev, "audio", rec->action, rec->error);
        warn_report_once("paiov: %s: host audio %s failed: %s", dev,
                         rec->action, rec->error);
        break;
    }
    error_free(err);
}

void paiov_pma_power_changed(PaiovPMA *pma, PaiovVPSA *vpsa,
                             PaiovPowerState old, PaiovPowerState new)
{
    trace_paiov_pma_power_changed(object_get_typename(OBJECT(vpsa->dev)),
                                  PaiovPowerState_str(old),
                                  PaiovPowerState_str(new));
    if (vpsa->card) {
        paiov_pma_audio(pma, vpsa, new);
    }
}

/* Bring asynchronous host results up to date */
void paiov_pma_refresh(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    PaiovHostRecord *rec = &vpsa->audio;
    AudioHostPower applied;
    Error *err = NULL;

    if (!vpsa->card || !rec->action ||
        rec->result == PAIOV_HOST_ACTION_RESULT_UNSUPPORTED ||
        rec->result == PAIOV_HOST_ACTION_RESULT_FAILED) {
        return;
    }
    if (!AUD_get_host_power(vpsa->card, &applied, &err)) {
        rec->result = PAIOV_HOST_ACTION_RESULT_FAILED;
        rec->failures++;
        g_free(rec->error);
        rec->error = g_strdup(error_get_pretty(err));
        trace_paiov_pma_host_failed(object_get_typename(OBJECT(vpsa->dev)),
                                    "audio", rec->action, rec->error);
        error_free(err);
    } else if (applied == rec->level ||
               (rec->level != AUDIO_HOST_POWER_RUNNING &&
                applied > rec->level)) {
        /* a released stream is as quiet as a corked one */
        rec->result = PAIOV_HOST_ACTION_RESULT_OK;
    }
}

PaiovPMA *paiov_pma_get_default(Error **errp)
{
    Object *root = object_get_objects_root();
    Object *obj = object_resolve_path_component(root, PAIOV_PMA_DEFAULT_ID);

    if (obj) {
        return PAIOV_PMA(obj);
    }
    obj = object_new_with_props(TYPE_PAIOV_PMA, root, PAIOV_PMA_DEFAULT_ID,
                                errp, NULL);
    return obj ? PAIOV_PMA(obj) : NULL;
}

static int paiov_pma_get_audio_idle(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->audio_idle;
}

static void paiov_pma_set_audio_idle(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->audio_idle = value;
}

static int paiov_pma_get_audio_d3hot(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->audio_d3hot;
}

static void paiov_pma_set_audio_d3hot(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->audio_d3hot = value;
}

static void paiov_pma_instance_init(Object *obj)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    pma->audio_idle = PAIOV_AUDIO_ACTION_CORK;
    pma->audio_d3hot = PAIOV_AUDIO_ACTION_RELEASE;
}

static void paiov_pma_class_init(ObjectClass *oc, void *data)
{
    object_class_property_add_enum(oc, "audio-idle", "PaiovAudioAction",
                                   &PaiovAudioAction_lookup,
                                   paiov_pma_get_audio_idle,
                                   paiov_pma_set_audio_idle);
    object_class_property_set_description(oc, "audio-idle",
        "What to do with the host audio stream of an idle device:"
        " run, cork (default) or release");
    object_class_property_add_enum(oc, "audio-d3hot", "PaiovAudioAction",
                                   &PaiovAudioAction_lookup,
                                   paiov_pma_get_audio_d3hot,
                                   paiov_pma_set_audio_d3hot);
    object_class_property_set_description(oc, "audio-d3hot",
        "What to do with the host audio stream of a device in D3hot:"
        " run, cork or release (default)");
}

static const TypeInfo paiov_pma_info = {
    .name = TYPE_PAIOV_PMA,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PaiovPMA),
    .instance_init = paiov_pma_instance_init,
    .class_init = paiov_pma_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void paiov_pma_register_types(void)
{
    type_register_static(&paiov_pma_info);
}

type_init(paiov_pma_register_types);
