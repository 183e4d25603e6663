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
#include "qapi/visitor.h"
#include "qom/object_interfaces.h"
#include "hw/qdev-core.h"
#include "system/system.h"
#include "paiov/paiov.h"
#include "paiov/paiov-rpm.h"
#include "trace.h"

#define PAIOV_PM_QOS_DEVICE "/dev/cpu_dma_latency"

struct PaiovPMA {
    Object parent_obj;

    PaiovAudioAction audio_idle;
    PaiovAudioAction audio_d3hot;
    char *sysfs_root;
    char *runtime_dir;
    uint32_t autosuspend_delay_ms;
    PaiovPolicy policy;
    uint32_t idle_timeout_ms;
    int32_t pm_qos_latency_us;      /* -1: no request */
    uint64_t timer_slack_ns;
    Notifier exit;
    bool exit_registered;

    /* host PM framework: PM QoS request */
    int pm_qos_fd;
    uint64_t pm_qos_requests;
    char *pm_qos_error;

    /* host PM framework: timer slack of QEMU's threads */
    GHashTable *slack_saved;        /* tid -> original timerslack_ns */
    bool slack_raised;
    uint64_t slack_raises;
    uint64_t slack_threads;
    char *slack_error;
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

    paiov_host_request(rec, paiov_audio_level_names[level]);
    rec->level = level;

    /* passive idle: the guest plays silence, its voices stay active */
    AUD_set_silent(vpsa->card, state == PAIOV_POWER_STATE_PASSIVE_IDLE &&
                               level != AUDIO_HOST_POWER_RUNNING);
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
    bool low = state != PAIOV_POWER_STATE_ACTIVE &&
               pma->policy != PAIOV_POLICY_PERFORMANCE;
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

/* Host PM framework hooks: PM QoS and timer slack */

uint32_t paiov_pma_idle_timeout_ms(PaiovPMA *pma)
{
    switch (pma->policy) {
    case PAIOV_POLICY_PERFORMANCE:
        return 0;
    case PAIOV_POLICY_POWERSAVE:
        return pma->idle_timeout_ms ? MAX(pma->idle_timeout_ms / 4, 1) : 0;
    default:
        return pma->idle_timeout_ms;
    }
}

bool paiov_vpsa_low_latency(PaiovVPSA *vpsa)
{
    if (!vpsa->ops->low_latency || !vpsa->pma) {
        return false;
    }
    if (vpsa->pma->policy == PAIOV_POLICY_PERFORMANCE) {
        return vpsa->state == PAIOV_POWER_STATE_ACTIVE ||
               vpsa->state == PAIOV_POWER_STATE_PASSIVE_IDLE;
    }
    return vpsa->state == PAIOV_POWER_STATE_ACTIVE;
}

bool paiov_pma_pm_qos_held(PaiovPMA *pma)
{
    return pma->pm_qos_fd >= 0;
}

bool paiov_pma_timer_slack_raised(PaiovPMA *pma)
{
    return pma->slack_raised;
}

typedef struct PaiovPmaScan {
    PaiovPMA *pma;
    unsigned devices;
    unsigned low_power;
    bool low_latency;
    PaiovPmaInfo *info;
} PaiovPmaScan;

static void paiov_pma_scan_one(PaiovVPSA *vpsa, void *opaque)
{
    PaiovPmaScan *scan = opaque;

    if (vpsa->pma != scan->pma) {
        return;
    }
    scan->devices++;
    if (vpsa->state != PAIOV_POWER_STATE_ACTIVE) {
        scan->low_power++;
    }
    scan->low_latency |= paiov_vpsa_low_latency(vpsa);
    if (scan->info) {
        PaiovDeviceInfo *d = paiov_vpsa_query(vpsa);

        scan->info->accesses += d->accesses;
        scan->info->handler_ns += d->handler_ns;
        scan->info->wakeups += d->wakeups;
        scan->info->wakeups_avoided += d->wakeups_avoided;
        qapi_free_PaiovDeviceInfo(d);
    }
}

static void paiov_pma_scan(PaiovPMA *pma, PaiovPmaScan *scan,
                           PaiovPmaInfo *info)
{
    memset(scan, 0, sizeof(*scan));
    scan->pma = pma;
    scan->info = info;
    paiov_vpsa_foreach(paiov_pma_scan_one, scan);
}

static void paiov_pma_set_error(char **slot, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void paiov_pma_set_error(char **slot, const char *fmt, ...)
{
    va_list ap;

    g_free(*slot);
    va_start(ap, fmt);
    *slot = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void paiov_pma_pm_qos(PaiovPMA *pma, bool want)
{
    int32_t value = pma->pm_qos_latency_us;

    if (want && pma->pm_qos_fd < 0) {
        int fd = qemu_open_old(PAIOV_PM_QOS_DEVICE, O_WRONLY);

        pma->pm_qos_requests++;
        if (fd < 0 || write(fd, &value, sizeof(value)) != sizeof(value)) {
            paiov_pma_set_error(&pma->pm_qos_error, "%s: %s",
                                PAIOV_PM_QOS_DEVICE, strerror(errno));
            trace_paiov_pma_pm_qos(value, -errno);
            warn_report_once("paiov: PM QoS request failed: %s",
                             pma->pm_qos_error);
            if (fd >= 0) {
                close(fd);
            }
            return;
        }
        g_free(pma->pm_qos_error);
        pma->pm_qos_error = NULL;
        pma->pm_qos_fd = fd;
        trace_paiov_pma_pm_qos(value, 0);
    } else if (!want && pma->pm_qos_fd >= 0) {
        /* closing the file drops the request */
        close(pma->pm_qos_fd);
        pma->pm_qos_fd = -1;
        trace_paiov_pma_pm_qos(-1, 0);
    }
}

/* Write a /proc file in place (g_file_set_contents would rename) */
static bool paiov_pma_write_proc(const char *path, const char *value,
                                 char **error)
{
    int fd = qemu_open_old(path, O_WRONLY);
    ssize_t len = strlen(value);
    bool ok = fd >= 0 && write(fd, value, len) == len;

    if (!ok) {
        paiov_pma_set_error(error, "%s: %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Raise timerslack_ns of every thread of QEMU, or restore saved values */
static void paiov_pma_timer_slack(PaiovPMA *pma, bool raise)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) gerr = NULL;
    const char *name;
    unsigned done = 0;

    if (raise == pma->slack_raised) {
        return;
    }
    dir = g_dir_open("/proc/self/task", 0, &gerr);
    if (!dir) {
        paiov_pma_set_error(&pma->slack_error, "%s", gerr->message);
        return;
    }
    g_free(pma->slack_error);
    pma->slack_error = NULL;
    while ((name = g_dir_read_name(dir))) {
        /* only /proc/TID has it, not /proc/self/task/TID */
        g_autofree char *path = g_strdup_printf("/proc/%s/timerslack_ns",
                                                name);
        g_autofree char *old = NULL;
        g_autofree char *value = NULL;
        gpointer key = GINT_TO_POINTER(atoi(name));
        GError *err = NULL;

        if (raise) {
            if (!g_file_get_contents(path, &old, NULL, &err)) {
                paiov_pma_set_error(&pma->slack_error, "%s", err->message);
                g_error_free(err);
                continue;
            }
            value = g_strdup_printf("%" PRIu64, pma->timer_slack_ns);
        } else {
            const char *saved = g_hash_table_lookup(pma->slack_saved, key);

            if (!saved) {
                continue;       /* a thread started meanwhile: inherited */
            }
            value = g_strdup(saved);
        }
        if (!paiov_pma_write_proc(path, value, &pma->slack_error)) {
            continue;
        }
        if (raise) {
            g_hash_table_insert(pma->slack_saved, key,
                                g_strdup(g_strstrip(old)));
        }
        done++;
    }
    if (!raise) {
        g_hash_table_remove_all(pma->slack_saved);
    } else {
        pma->slack_raises++;
        pma->slack_threads = done;
    }
    pma->slack_raised = raise;
    trace_paiov_pma_timer_slack(raise, pma->timer_slack_ns, done);
    if (pma->slack_error) {
        warn_report_once("paiov: setting the timer slack failed: %s",
                         pma->slack_error);
    }
}

/* After any change: what the host PM framework should hold for this VM */
static void paiov_pma_update_framework(PaiovPMA *pma)
{
    PaiovPmaScan scan;

    paiov_pma_scan(pma, &scan, NULL);
    paiov_pma_pm_qos(pma, pma->pm_qos_latency_us >= 0 && scan.low_latency);
    paiov_pma_timer_slack(pma, pma->policy == PAIOV_POLICY_POWERSAVE &&
                               scan.devices &&
                               scan.low_power == scan.devices);
}

/* QEMU exits (quit, SIGTERM, SIGINT): every knob goes back */
static void paiov_pma_exit(Notifier *n, void *data)
{
    PaiovPMA *pma = container_of(n, PaiovPMA, exit);

    paiov_vpsa_foreach(paiov_pma_release_knob, pma);
    paiov_pma_timer_slack(pma, false);
    paiov_pma_pm_qos(pma, false);
}

static void paiov_pma_register_exit(PaiovPMA *pma)
{
    if (!pma->exit_registered) {
        pma->exit.notify = paiov_pma_exit;
        qemu_add_exit_notifier(&pma->exit);
        pma->exit_registered = true;
    }
}

/* The policy or a timeout changed: apply it to every device at once */
static void paiov_pma_reapply_one(PaiovVPSA *vpsa, void *opaque)
{
    if (vpsa->pma == opaque) {
        paiov_vpsa_policy_changed(vpsa);
        paiov_pma_power_changed(vpsa->pma, vpsa, vpsa->state, vpsa->state);
    }
}

static void paiov_pma_reapply(PaiovPMA *pma)
{
    trace_paiov_pma_policy(PaiovPolicy_str(pma->policy),
                           paiov_pma_idle_timeout_ms(pma));
    paiov_vpsa_foreach(paiov_pma_reapply_one, pma);
    paiov_pma_update_framework(pma);
}

typedef struct PaiovPmaList {
    PaiovPmaInfoList *list, **tail;
} PaiovPmaList;

static int paiov_pma_query_one(Object *obj, void *opaque)
{
    PaiovPmaList *l = opaque;
    PaiovPMA *pma = (PaiovPMA *)object_dynamic_cast(obj, TYPE_PAIOV_PMA);
    PaiovPmaInfo *info;
    PaiovPmaScan scan;

    if (!pma) {
        return 0;
    }
    info = g_new0(PaiovPmaInfo, 1);
    paiov_pma_scan(pma, &scan, info);
    info->qom_path = object_get_canonical_path(obj);
    info->policy = pma->policy;
    info->idle_timeout_ms = paiov_pma_idle_timeout_ms(pma);
    info->devices = scan.devices;
    info->low_power = scan.low_power;
    if (pma->pm_qos_latency_us >= 0) {
        info->pm_qos = g_new0(PaiovPmQos, 1);
        info->pm_qos->latency_us = pma->pm_qos_latency_us;
        info->pm_qos->held = pma->pm_qos_fd >= 0;
        info->pm_qos->requests = pma->pm_qos_requests;
        info->pm_qos->error = g_strdup(pma->pm_qos_error);
    }
    info->timer_slack = g_new0(PaiovTimerSlack, 1);
    info->timer_slack->raised = pma->slack_raised;
    info->timer_slack->slack_ns = pma->timer_slack_ns;
    info->timer_slack->threads = pma->slack_threads;
    info->timer_slack->raises = pma->slack_raises;
    info->timer_slack->error = g_strdup(pma->slack_error);
    QAPI_LIST_APPEND(l->tail, info);
    return 0;
}

PaiovPmaInfoList *paiov_pma_query_all(void)
{
    PaiovPmaList l = { .list = NULL, .tail = &l.list };

    object_child_foreach(object_get_objects_root(), paiov_pma_query_one, &l);
    return l.list;
}

bool paiov_pma_attach(PaiovPMA *pma, PaiovVPSA *vpsa, Error **errp)
{
    /* timer slack and PM QoS go back on exit too */
    paiov_pma_register_exit(pma);
    if (!vpsa->host_device) {
        return true;
    }
    vpsa->rpm = paiov_rpm_open(pma->sysfs_root, vpsa->host_device,
                               pma->runtime_dir, "host-device", errp);
    return vpsa->rpm != NULL;
}

void paiov_pma_detach(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    paiov_pma_release_knob(vpsa, NULL);
    /* the device is still listed: the others decide without it later */
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
    paiov_pma_update_framework(pma);
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
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static int paiov_pma_get_policy(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->policy;
}

static void paiov_pma_set_policy(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->policy = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static void paiov_pma_get_idle_timeout(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    visit_type_uint32(v, name, &PAIOV_PMA(obj)->idle_timeout_ms, errp);
}

static void paiov_pma_set_idle_timeout(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    PAIOV_PMA(obj)->idle_timeout_ms = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static void paiov_pma_get_pm_qos(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    visit_type_int32(v, name, &PAIOV_PMA(obj)->pm_qos_latency_us, errp);
}

static void paiov_pma_set_pm_qos(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    int32_t value;

    if (!visit_type_int32(v, name, &value, errp)) {
        return;
    }
    if (value < -1) {
        error_setg(errp, "paiov-pma property '%s' must be -1 (no request) "
                   "or a latency in microseconds, not %" PRId32, name, value);
        return;
    }
    /* a different value is a new request */
    paiov_pma_pm_qos(pma, false);
    pma->pm_qos_latency_us = value;
    paiov_pma_update_framework(pma);
}

static void paiov_pma_get_slack(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    visit_type_uint64(v, name, &PAIOV_PMA(obj)->timer_slack_ns, errp);
}

static void paiov_pma_set_slack(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    uint64_t value;

    if (!visit_type_uint64(v, name, &value, errp)) {
        return;
    }
    if (!value || value > 10 * NANOSECONDS_PER_SECOND) {
        error_setg(errp, "paiov-pma property '%s' must be between 1 ns and "
                   "10 s, not %" PRIu64, name, value);
        return;
    }
    paiov_pma_timer_slack(pma, false);
    pma->timer_slack_ns = value;
    paiov_pma_update_framework(pma);
}

static int paiov_pma_get_audio_d3hot(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->audio_d3hot;
}

static void paiov_pma_set_audio_d3hot(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->audio_d3hot = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
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
    pma->runtime_dir = geteuid() ? g_build_filename(g_get_user_runtime_dir(),
                                                    "qemu-paiov", NULL)
                                 : g_strdup("/run/qemu-paiov");
    pma->autosuspend_delay_ms = 2000;
    pma->policy = PAIOV_POLICY_BALANCED;
    pma->idle_timeout_ms = 5000;
    pma->pm_qos_latency_us = -1;
    pma->pm_qos_fd = -1;
    pma->timer_slack_ns = 20 * SCALE_MS;
    pma->slack_saved = g_hash_table_new_full(NULL, NULL, NULL, g_free);
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
    paiov_pma_timer_slack(pma, false);
    paiov_pma_pm_qos(pma, false);
    g_hash_table_destroy(pma->slack_saved);
    g_free(pma->pm_qos_error);
    g_free(pma->slack_error);
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
    object_class_property_add_enum(oc, "policy", "PaiovPolicy",
                                   &PaiovPolicy_lookup,
                                   paiov_pma_get_policy,
                                   paiov_pma_set_policy);
    object_class_property_set_description(oc, "policy",
        "performance (no host actions), balanced (default) or powersave;"
        " may be changed at run time (qom-set)");
    object_class_property_add(oc, "idle-timeout-ms", "uint32",
                              paiov_pma_get_idle_timeout,
                              paiov_pma_set_idle_timeout, NULL, NULL);
    object_class_property_set_description(oc, "idle-timeout-ms",
        "Passive idle after this long without a guest access (balanced;"
        " a quarter of it under powersave; 0: never; default 5000)");
    object_class_property_add(oc, "pm-qos-latency-us", "int32",
                              paiov_pma_get_pm_qos, paiov_pma_set_pm_qos,
                              NULL, NULL);
    object_class_property_set_description(oc, "pm-qos-latency-us",
        "CPU latency requested from the host (/dev/cpu_dma_latency) while"
        " a device that needs low latency is active (-1, default: none)");
    object_class_property_add(oc, "timer-slack-ns", "uint64",
                              paiov_pma_get_slack, paiov_pma_set_slack,
                              NULL, NULL);
    object_class_property_set_description(oc, "timer-slack-ns",
        "Timer slack of QEMU's threads while every device is low-power"
        " under the powersave policy (default 20000000)");
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
        "or $XDG_RUNTIME_DIR/qemu-paiov when not root); created 0700, "
        "refused unless owned by QEMU's user and writable by it only");
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
