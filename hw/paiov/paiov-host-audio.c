/*
 * PAIOV proxy PMA host backend: the host sound stream of a device
 *
 * The device's host streams are corked when the device is idle and
 * released in D3hot (properties audio-idle, audio-d3hot), so that
 * PulseAudio's module-suspend-on-idle can suspend the sink.  It never
 * suspends a sink itself: other programs may be using it.  Results
 * come back asynchronously (AUD_get_host_power()).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-paiov.h"
#include "audio/audio.h"
#include "paiov-host.h"
#include "trace.h"

static const PaiovHostActionKind paiov_audio_level_actions[] = {
    [AUDIO_HOST_POWER_RUNNING] = PAIOV_HOST_ACTION_KIND_RUN,
    [AUDIO_HOST_POWER_CORKED] = PAIOV_HOST_ACTION_KIND_CORK,
    [AUDIO_HOST_POWER_RELEASED] = PAIOV_HOST_ACTION_KIND_RELEASE,
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

static bool paiov_host_audio_present(PaiovHost *host)
{
    return host->card;
}

/* Bring the asynchronous result of the last request up to date */
static void paiov_host_audio_refresh(PaiovHost *host)
{
    PaiovHostRecord *rec = &host->records[PAIOV_HOST_BACKEND_AUDIO];
    AudioHostPower applied;
    Error *err = NULL;

    if (!host->card || !rec->requests ||
        rec->result == PAIOV_HOST_ACTION_RESULT_UNSUPPORTED ||
        rec->result == PAIOV_HOST_ACTION_RESULT_FAILED) {
        return;
    }
    if (!AUD_get_host_power(host->card, &applied, &err)) {
        paiov_host_failed(host, PAIOV_HOST_BACKEND_AUDIO,
                          error_get_pretty(err));
        error_free(err);
    } else if (applied == rec->level ||
               (rec->level != AUDIO_HOST_POWER_RUNNING &&
                applied > rec->level)) {
        /* a released stream is as quiet as a corked one */
        rec->result = PAIOV_HOST_ACTION_RESULT_OK;
    }
}

static void paiov_host_audio_apply(PaiovPMA *pma, PaiovHost *host,
                                   PaiovPowerState state)
{
    PaiovHostRecord *rec = &host->records[PAIOV_HOST_BACKEND_AUDIO];
    const char *dev = paiov_host_dev_type(host);
    AudioHostPower level;
    Error *err = NULL;
    int ret;

    switch (pma->policy == PAIOV_POLICY_PERFORMANCE ?
            PAIOV_POWER_STATE_ACTIVE : state) {
    case PAIOV_POWER_STATE_IDLE:
    case PAIOV_POWER_STATE_PASSIVE_IDLE:
        level = paiov_audio_level(pma->policy == PAIOV_POLICY_POWERSAVE ?
                                  PAIOV_AUDIO_ACTION_RELEASE :
                                  pma->audio_idle);
        break;
    case PAIOV_POWER_STATE_D3HOT:
        level = paiov_audio_level(pma->audio_d3hot);
        break;
    default:
        level = AUDIO_HOST_POWER_RUNNING;
        break;
    }

    paiov_host_request(host, PAIOV_HOST_BACKEND_AUDIO,
                       paiov_audio_level_actions[level]);
    rec->level = level;

    /*
     * pooling: the audio timer's ticks go where the PMA's grid says, on
     * the audiodev of every card that follows this one too
     */
    AUD_set_timer_align(host->card, paiov_pma_align_virtual, pma);

    /* passive idle: the guest plays silence, its voices stay active */
    AUD_set_silent(host->card, state == PAIOV_POWER_STATE_PASSIVE_IDLE &&
                               level != AUDIO_HOST_POWER_RUNNING);
    ret = AUD_set_host_power(host->card, level, &err);
    trace_paiov_pma_host_request(dev,
                                 PaiovHostBackend_str(PAIOV_HOST_BACKEND_AUDIO),
                                 PaiovHostActionKind_str(rec->action), ret);
    switch (ret) {
    case 0:
    case -EINPROGRESS:
        rec->result = PAIOV_HOST_ACTION_RESULT_PENDING;
        paiov_host_audio_refresh(host);
        break;
    case -ENOTSUP:
        rec->result = PAIOV_HOST_ACTION_RESULT_UNSUPPORTED;
        break;
    default:
        paiov_host_failed(host, PAIOV_HOST_BACKEND_AUDIO,
                          err ? error_get_pretty(err) : strerror(-ret));
        warn_report_once("paiov: %s: host audio %s failed: %s", dev,
                         PaiovHostActionKind_str(rec->action), rec->error);
        break;
    }
    error_free(err);
}

static int paiov_host_audio_get_idle(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->audio_idle;
}

static void paiov_host_audio_set_idle(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->audio_idle = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static int paiov_host_audio_get_d3hot(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->audio_d3hot;
}

static void paiov_host_audio_set_d3hot(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->audio_d3hot = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static void paiov_host_audio_instance_init(PaiovPMA *pma)
{
    pma->audio_idle = PAIOV_AUDIO_ACTION_CORK;
    pma->audio_d3hot = PAIOV_AUDIO_ACTION_RELEASE;
}

static void paiov_host_audio_class_init(ObjectClass *oc)
{
    object_class_property_add_enum(oc, "audio-idle", "PaiovAudioAction",
                                   &PaiovAudioAction_lookup,
                                   paiov_host_audio_get_idle,
                                   paiov_host_audio_set_idle);
    object_class_property_set_description(oc, "audio-idle",
        "What to do with the host audio stream of an idle device:"
        " run, cork (default) or release");
    object_class_property_add_enum(oc, "audio-d3hot", "PaiovAudioAction",
                                   &PaiovAudioAction_lookup,
                                   paiov_host_audio_get_d3hot,
                                   paiov_host_audio_set_d3hot);
    object_class_property_set_description(oc, "audio-d3hot",
        "What to do with the host audio stream of a device in D3hot:"
        " run, cork or release (default)");
}

/*
 * Unplug: the audio timer no longer asks this PMA.  Not at exit: the
 * audio state may already be freed then, and the timer never runs again.
 */
static void paiov_host_audio_release(PaiovHost *host)
{
    if (host->card && host->pma && !host->pma->exiting) {
        AUD_set_timer_align(host->card, NULL, NULL);
    }
}

const PaiovHostBackendOps paiov_host_audio_ops = {
    .name = "audio",
    .backend = PAIOV_HOST_BACKEND_AUDIO,
    .class_init = paiov_host_audio_class_init,
    .instance_init = paiov_host_audio_instance_init,
    .present = paiov_host_audio_present,
    .apply = paiov_host_audio_apply,
    .refresh = paiov_host_audio_refresh,
    .release = paiov_host_audio_release,
};
