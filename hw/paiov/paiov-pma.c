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
#include "system/system.h"
#include "paiov/paiov.h"
#include "paiov/paiov-rpm.h"
#include "trace.h"

struct PaiovPMA {
    Object parent_obj;

    PaiovAudioAction audio_idle;
    PaiovAudioAction audio_d3hot;
    char *sysfs_root;
    char *runtime_dir;
    uint32_t autosuspend_delay_ms;
    Notifier exit;
    bool exit_registered;
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

/* Account a new request through one backend of a device */
static void paiov_host_request(PaiovHostRecord *rec, const char *action)
{
    rec->action = action;
    rec->requests++;
    g_free(rec->error);
    rec->error = NULL;
}

/* A request, or its asynchronous completion, failed: record and trace */
static void paiov_host_failed(PaiovVPSA *vpsa, PaiovHostRecord *rec,
                              const char *backend, const char *error)
{
    rec->result = PAIOV_HOST_ACTION_RESULT_FAILED;
    rec->failures++;
    g_free(rec->error);
    rec->error = g_strdup(error);
    trace_paiov_pma_host_failed(object_get_typename(OBJECT(vpsa->dev)),
                                backend, rec->action, rec->error);
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

    paiov_host_request(rec, paiov_audio_level_names[level]);
    rec->level = level;

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
        paiov_host_failed(vpsa, rec, "audio",
                          err ? error_get_pretty(err) : strerror(-ret));
        warn_report_once("paiov: %s: host audio %s failed: %s", dev,
                         rec->action, rec->error);
        break;
    }
    error_free(err);
}

static void paiov_pma_runtime_pm(PaiovPMA *pma, PaiovVPSA *vpsa,
                                 PaiovPowerState state)
{
    PaiovHostRecord *rec = &vpsa->runtime_pm;
    const char *dev = object_get_typename(OBJECT(vpsa->dev));
    bool low = state != PAIOV_POWER_STATE_ACTIVE;
    Error *err = NULL;
    int ret;

    paiov_host_request(rec, low ? "auto" : "on");
    ret = paiov_rpm_vote(vpsa->rpm, low, pma->autosuspend_delay_ms, &err);
    trace_paiov_pma_host_request(dev, "runtime-pm", rec->action, ret);
    if (ret < 0) {
        paiov_host_failed(vpsa, rec, "runtime-pm", error_get_pretty(err));
        warn_report_once("paiov: %s: host runtime PM %s failed: %s", dev,
                         rec->action, rec->error);
        error_free(err);
    } else {
        rec->result = PAIOV_HOST_ACTION_RESULT_OK;
    }
}

static void paiov_pma_release_knob(PaiovVPSA *vpsa, void *opaque)
{
    if ((!opaque || vpsa->pma == opaque) && vpsa->rpm) {
        paiov_rpm_close(vpsa->rpm);
        vpsa->rpm = NULL;
    }
}

/* QEMU exits (quit, SIGTERM, SIGINT): every knob goes back */
static void paiov_pma_exit(Notifier *n, void *data)
{
    PaiovPMA *pma = container_of(n, PaiovPMA, exit);

    paiov_vpsa_foreach(paiov_pma_release_knob, pma);
}

bool paiov_pma_attach(PaiovPMA *pma, PaiovVPSA *vpsa, Error **errp)
{
    if (!vpsa->host_device) {
        return true;
    }
    vpsa->rpm = paiov_rpm_open(pma->sysfs_root, vpsa->host_device,
                               pma->runtime_dir, "host-device", errp);
    if (!vpsa->rpm) {
        return false;
    }
    if (!pma->exit_registered) {
        pma->exit.notify = paiov_pma_exit;
        qemu_add_exit_notifier(&pma->exit);
        pma->exit_registered = true;
    }
    return true;
}

void paiov_pma_detach(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    paiov_pma_release_knob(vpsa, NULL);
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
    if (vpsa->rpm) {
        paiov_pma_runtime_pm(pma, vpsa, new);
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
        paiov_host_failed(vpsa, rec, "audio", error_get_pretty(err));
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

static char *paiov_pma_get_sysfs_root(Object *obj, Error **errp)
{
    return g_strdup(PAIOV_PMA(obj)->sysfs_root);
}

static void paiov_pma_set_sysfs_root(Object *obj, const char *value,
                                     Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    g_free(pma->sysfs_root);
    pma->sysfs_root = g_strdup(value);
}

static char *paiov_pma_get_runtime_dir(Object *obj, Error **errp)
{
    return g_strdup(PAIOV_PMA(obj)->runtime_dir);
}

static void paiov_pma_set_runtime_dir(Object *obj, const char *value,
                                      Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    g_free(pma->runtime_dir);
    pma->runtime_dir = g_strdup(value);
}

static void paiov_pma_instance_init(Object *obj)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    pma->audio_idle = PAIOV_AUDIO_ACTION_CORK;
    pma->audio_d3hot = PAIOV_AUDIO_ACTION_RELEASE;
    pma->sysfs_root = g_strdup("/sys");
    pma->runtime_dir = getuid() ? g_build_filename(g_get_user_runtime_dir(),
                                                   "qemu-paiov", NULL)
                                : g_strdup("/run/qemu-paiov");
    pma->autosuspend_delay_ms = 2000;
    object_property_add_uint32_ptr(obj, "autosuspend-delay-ms",
                                   &pma->autosuspend_delay_ms,
                                   OBJ_PROP_FLAG_READWRITE);
}

static void paiov_pma_instance_finalize(Object *obj)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    if (pma->exit_registered) {
        qemu_remove_exit_notifier(&pma->exit);
    }
    g_free(pma->sysfs_root);
    g_free(pma->runtime_dir);
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
    object_class_property_add_str(oc, "sysfs-root", paiov_pma_get_sysfs_root,
                                  paiov_pma_set_sysfs_root);
    object_class_property_set_description(oc, "sysfs-root",
        "Where host-device paths of the devices are looked up; nothing "
        "outside it is written (default /sys)");
    object_class_property_add_str(oc, "runtime-dir",
                                  paiov_pma_get_runtime_dir,
                                  paiov_pma_set_runtime_dir);
    object_class_property_set_description(oc, "runtime-dir",
        "Directory shared by the QEMU processes that use the same host "
        "devices, for their runtime-PM votes (default /run/qemu-paiov, "
        "or $XDG_RUNTIME_DIR/qemu-paiov when not root)");
}

static const TypeInfo paiov_pma_info = {
    .name = TYPE_PAIOV_PMA,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PaiovPMA),
    .instance_init = paiov_pma_instance_init,
    .instance_finalize = paiov_pma_instance_finalize,
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
