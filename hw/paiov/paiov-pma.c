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
 * Host requests are debounced (property host-debounce-ms): the virtual
 * PSA state follows the guest at once, but a request toward less power
 * (cork, release, a low runtime-PM vote, dropping PM QoS, raising the
 * timer slack) waits for the end of a window on QEMU_CLOCK_VIRTUAL and
 * is then made only if still wanted, the last wanted level winning.  A
 * request toward more power is made at once (the host stream must run
 * before the guest's first sample is due).  So a guest that toggles a
 * device in a loop costs the host at most one "up" and one "down" per
 * window, not one request per toggle.  The virtual clock keeps qtests
 * deterministic; it stops with the VM, so stopping the VM applies what is
 * pending.  QEMU's exit drops it: the knobs are restored anyway.
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
#include "system/runstate.h"
#include "qemu/main-loop.h"
#include <sys/prctl.h>
#include "paiov/paiov.h"
#include "paiov/paiov-rpm.h"
#include "trace.h"

#define PAIOV_PM_QOS_DEVICE "/dev/cpu_dma_latency"
#define PAIOV_PMA_DEBOUNCE_DEFAULT_MS 50
#define PAIOV_PMA_DEBOUNCE_MAX_MS 10000u

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

    /* debounce of host requests toward less power */
    uint32_t host_debounce_ms;
    QEMUTimer *debounce_timer;      /* QEMU_CLOCK_VIRTUAL */
    VMChangeStateEntry *vm_change;
    uint64_t host_requests;         /* through the devices' backends */
    uint64_t host_coalesced;

    /* host PM framework: PM QoS request */
    int pm_qos_fd;
    uint64_t pm_qos_requests;
    uint64_t pm_qos_coalesced;
    bool pm_qos_drop_pending;
    char *pm_qos_error;

    /* host PM framework: timer slack of QEMU's threads */
    GHashTable *slack_saved;        /* tid -> original, still raised */
    GArray *slack_failed;           /* tids the last pass could not set */
    bool slack_raised;
    bool slack_raise_pending;
    uint64_t slack_default;         /* QEMU's threads' slack, not raised */
    uint64_t slack_raises;
    uint64_t slack_threads;
    uint64_t slack_coalesced;
    int64_t slack_retry_ms;         /* last retry of failed restores */
    int main_tid;                   /* main loop thread */
    QEMUBH *slack_bh;               /* restore the main loop thread */
    char *slack_error;
};

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

/* Account a new request through one backend of a device */
static void paiov_host_request(PaiovHostRecord *rec,
                               PaiovHostActionKind action)
{
    rec->action = action;
    rec->requests++;
    g_free(rec->error);
    rec->error = NULL;
}

/* A request, or its asynchronous completion, failed: record and trace */
static void paiov_host_failed(PaiovVPSA *vpsa, PaiovHostRecord *rec,
                              PaiovHostBackend backend, const char *error)
{
    rec->result = PAIOV_HOST_ACTION_RESULT_FAILED;
    rec->failures++;
    g_free(rec->error);
    rec->error = g_strdup(error);
    trace_paiov_pma_host_failed(object_get_typename(OBJECT(vpsa->dev)),
                                PaiovHostBackend_str(backend),
                                PaiovHostActionKind_str(rec->action),
                                rec->error);
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

    paiov_host_request(rec, paiov_audio_level_actions[level]);
    rec->level = level;

    /* passive idle: the guest plays silence, its voices stay active */
    AUD_set_silent(vpsa->card, state == PAIOV_POWER_STATE_PASSIVE_IDLE &&
                               level != AUDIO_HOST_POWER_RUNNING);
    ret = AUD_set_host_power(vpsa->card, level, &err);
    trace_paiov_pma_host_request(dev,
                                 PaiovHostBackend_str(PAIOV_HOST_BACKEND_AUDIO),
                                 PaiovHostActionKind_str(rec->action), ret);
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
        paiov_host_failed(vpsa, rec, PAIOV_HOST_BACKEND_AUDIO,
                          err ? error_get_pretty(err) : strerror(-ret));
        warn_report_once("paiov: %s: host audio %s failed: %s", dev,
                         PaiovHostActionKind_str(rec->action), rec->error);
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

    paiov_host_request(rec, low ? PAIOV_HOST_ACTION_KIND_AUTO
                                : PAIOV_HOST_ACTION_KIND_ON);
    ret = paiov_rpm_vote(vpsa->rpm, low, pma->autosuspend_delay_ms, &err);
    trace_paiov_pma_host_request(dev,
                            PaiovHostBackend_str(PAIOV_HOST_BACKEND_RUNTIME_PM),
                            PaiovHostActionKind_str(rec->action), ret);
    if (ret < 0) {
        paiov_host_failed(vpsa, rec, PAIOV_HOST_BACKEND_RUNTIME_PM,
                          error_get_pretty(err));
        warn_report_once("paiov: %s: host runtime PM %s failed: %s", dev,
                         PaiovHostActionKind_str(rec->action), rec->error);
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
    unsigned pending;
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
    scan->pending += vpsa->host_pending;
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

/* The timer slack of thread @tid of QEMU */
static bool paiov_pma_thread_slack(PaiovPMA *pma, int tid, uint64_t *value)
{
    /* only /proc/TID has it, not /proc/self/task/TID */
    g_autofree char *path = g_strdup_printf("/proc/%d/timerslack_ns", tid);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        paiov_pma_set_error(&pma->slack_error, "%s", err->message);
        return false;
    }
    *value = g_ascii_strtoull(text, NULL, 10);
    return true;
}

/*
 * Set the timer slack of thread @tid.  Another thread's needs
 * CAP_SYS_NICE; a thread may always set its own with prctl().
 */
static bool paiov_pma_thread_set_slack(PaiovPMA *pma, int tid, uint64_t value)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;

    if (tid == qemu_get_thread_id()) {
        if (prctl(PR_SET_TIMERSLACK, (unsigned long)value, 0, 0, 0)) {
            paiov_pma_set_error(&pma->slack_error,
                                "prctl(PR_SET_TIMERSLACK): %s",
                                strerror(errno));
            return false;
        }
        return true;
    }
    path = g_strdup_printf("/proc/%d/timerslack_ns", tid);
    text = g_strdup_printf("%" PRIu64, value);
    return paiov_pma_write_proc(path, text, &pma->slack_error);
}

static gboolean paiov_pma_slack_gone(gpointer key, gpointer value,
                                     gpointer seen)
{
    return !g_hash_table_contains(seen, key);
}

/*
 * Raise timerslack_ns of every thread of QEMU, or restore what was raised.
 *
 * slack_saved holds the original of every thread still raised.  A
 * restore that fails leaves its entry there, to be retried at later
 * evaluations (at most once per debounce window) and on exit; the main
 * loop thread, which can always restore itself, is asked to from a bottom
 * half.  A thread started while the slack was raised inherited the
 * raised value: it goes back to slack_default, the slack QEMU's main
 * thread had before the first raise.  Entries of threads that exited are
 * dropped.
 */
static void paiov_pma_timer_slack(PaiovPMA *pma, bool raise)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GHashTable) seen = NULL;
    const char *name;
    unsigned done = 0;
    bool main_failed = false;

    if (raise == pma->slack_raised &&
        (raise || !g_hash_table_size(pma->slack_saved))) {
        return;
    }
    dir = g_dir_open("/proc/self/task", 0, &gerr);
    if (!dir) {
        paiov_pma_set_error(&pma->slack_error, "%s", gerr->message);
        return;
    }
    g_free(pma->slack_error);
    pma->slack_error = NULL;
    g_array_set_size(pma->slack_failed, 0);
    seen = g_hash_table_new(NULL, NULL);
    while ((name = g_dir_read_name(dir))) {
        int tid = atoi(name);
        gpointer key = GINT_TO_POINTER(tid);
        uint64_t *saved = g_hash_table_lookup(pma->slack_saved, key);
        uint64_t cur = 0, value;

        g_hash_table_add(seen, key);
        if (saved && raise) {
            done++;             /* still raised from before */
            continue;
        }
        if (saved) {
            value = *saved;
        } else if (!paiov_pma_thread_slack(pma, tid, &cur)) {
            g_array_append_val(pma->slack_failed, tid);
            continue;
        } else if (raise) {
            value = pma->timer_slack_ns;
            if (tid == pma->main_tid) {
                pma->slack_default = cur;
            }
        } else if (cur == pma->timer_slack_ns && cur != pma->slack_default) {
            /* started while raised: it inherited the raised value */
            value = pma->slack_default;
            saved = g_new(uint64_t, 1);
            *saved = value;
            g_hash_table_insert(pma->slack_saved, key, saved);
        } else {
            continue;           /* never raised by us */
        }
        if (!paiov_pma_thread_set_slack(pma, tid, value)) {
            g_array_append_val(pma->slack_failed, tid);
            main_failed |= tid == pma->main_tid;
            continue;
        }
        if (raise) {
            saved = g_new(uint64_t, 1);
            *saved = cur;
            g_hash_table_insert(pma->slack_saved, key, saved);
        } else {
            g_hash_table_remove(pma->slack_saved, key);
        }
        done++;
    }
    g_hash_table_foreach_remove(pma->slack_saved, paiov_pma_slack_gone,
                                seen);
    if (raise) {
        pma->slack_raises++;
        pma->slack_threads = done;
    }
    pma->slack_raised = raise;
    pma->slack_retry_ms = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL);
    trace_paiov_pma_timer_slack(raise, pma->timer_slack_ns, done);
    if (!raise && g_hash_table_size(pma->slack_saved)) {
        trace_paiov_pma_timer_slack_left(
            g_hash_table_size(pma->slack_saved), pma->slack_error ?: "");
    }
    if (main_failed && !raise && qemu_get_thread_id() != pma->main_tid) {
        qemu_bh_schedule(pma->slack_bh);
    }
    if (pma->slack_error) {
        warn_report_once("paiov: setting the timer slack failed: %s",
                         pma->slack_error);
    }
}

/* The main loop thread restores its own slack (see above) */
static void paiov_pma_slack_bh(void *opaque)
{
    PaiovPMA *pma = opaque;

    if (!pma->slack_raised) {
        paiov_pma_timer_slack(pma, false);
    }
}

static void paiov_pma_arm_debounce(PaiovPMA *pma)
{
    if (!timer_pending(pma->debounce_timer)) {
        timer_mod(pma->debounce_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  pma->host_debounce_ms);
    }
}

/*
 * After any change: what the host PM framework should hold for this VM.
 * Holding PM QoS and restoring the timer slack happen at once; dropping
 * PM QoS and raising the slack wait for the debounce unless @now.
 */
static void paiov_pma_update_framework(PaiovPMA *pma, bool now)
{
    PaiovPmaScan scan;
    bool qos, slack;

    paiov_pma_scan(pma, &scan, NULL);
    qos = pma->pm_qos_latency_us >= 0 && scan.low_latency;
    slack = pma->policy == PAIOV_POLICY_POWERSAVE && scan.devices &&
            scan.low_power == scan.devices;
    now |= !pma->host_debounce_ms || !runstate_is_running();

    if (pma->pm_qos_drop_pending && qos) {
        pma->pm_qos_coalesced++;
    }
    pma->pm_qos_drop_pending = false;
    if (qos || now) {
        paiov_pma_pm_qos(pma, qos);
    } else if (pma->pm_qos_fd >= 0) {
        pma->pm_qos_drop_pending = true;
        paiov_pma_arm_debounce(pma);
    }

    if (pma->slack_raise_pending && !slack) {
        pma->slack_coalesced++;
    }
    pma->slack_raise_pending = false;
    if (!slack && !pma->slack_raised && !now &&
        qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) - pma->slack_retry_ms <
        pma->host_debounce_ms) {
        /* failed restores are retried at most once per window */
    } else if (!slack || now) {
        paiov_pma_timer_slack(pma, slack);
    } else if (!pma->slack_raised) {
        pma->slack_raise_pending = true;
        paiov_pma_arm_debounce(pma);
    }
}

/* Order of the states by the host power they ask for */
static int paiov_state_power(PaiovPowerState state)
{
    switch (state) {
    case PAIOV_POWER_STATE_ACTIVE:
        return 3;
    case PAIOV_POWER_STATE_PASSIVE_IDLE:
        return 2;
    case PAIOV_POWER_STATE_IDLE:
        return 1;
    default:
        return 0;
    }
}

/* Make the host backends of a device follow its current state */
static void paiov_pma_apply(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    vpsa->host_pending = false;
    vpsa->host_applied = true;
    vpsa->host_state = vpsa->state;
    if (vpsa->card) {
        pma->host_requests++;
        paiov_pma_audio(pma, vpsa, vpsa->state);
    }
    if (vpsa->rpm) {
        pma->host_requests++;
        paiov_pma_runtime_pm(pma, vpsa, vpsa->state);
    }
}

/* A state change of a device made no host request of its own */
static void paiov_pma_coalesced(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    if (vpsa->card) {
        vpsa->audio.coalesced++;
        pma->host_coalesced++;
    }
    if (vpsa->rpm) {
        vpsa->runtime_pm.coalesced++;
        pma->host_coalesced++;
    }
}

static void paiov_pma_flush_one(PaiovVPSA *vpsa, void *opaque)
{
    if (vpsa->pma == opaque && vpsa->host_pending) {
        trace_paiov_pma_debounce(vpsa->path ?: "",
                                 PaiovPowerState_str(vpsa->state), "apply");
        paiov_pma_apply(vpsa->pma, vpsa);
    }
}

/* Make every request that waits for the debounce now */
static void paiov_pma_flush(PaiovPMA *pma)
{
    if (pma->debounce_timer) {
        timer_del(pma->debounce_timer);
    }
    paiov_vpsa_foreach(paiov_pma_flush_one, pma);
    paiov_pma_update_framework(pma, true);
}

static void paiov_pma_debounce_timer(void *opaque)
{
    paiov_pma_flush(opaque);
}

/* A stopped VM's guest changes nothing: it gets its low power at once */
static void paiov_pma_vm_change(void *opaque, bool running, RunState state)
{
    if (!running) {
        paiov_pma_flush(opaque);
    }
}

static void paiov_pma_drop_one(PaiovVPSA *vpsa, void *opaque)
{
    if (vpsa->pma == opaque) {
        vpsa->host_pending = false;
    }
}

/*
 * QEMU exits (quit, SIGTERM, SIGINT): every knob goes back.  Requests
 * still waiting for the debounce are dropped, not applied: the process
 * ends, and the audio state they would reach may already be freed (exit
 * handlers run in no order we control).
 */
static void paiov_pma_exit(Notifier *n, void *data)
{
    PaiovPMA *pma = container_of(n, PaiovPMA, exit);

    if (pma->debounce_timer) {
        timer_del(pma->debounce_timer);
    }
    paiov_vpsa_foreach(paiov_pma_drop_one, pma);
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
    paiov_pma_update_framework(pma, true);
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
    guint i;

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
        info->pm_qos->coalesced = pma->pm_qos_coalesced;
        info->pm_qos->error = g_strdup(pma->pm_qos_error);
    }
    info->timer_slack = g_new0(PaiovTimerSlack, 1);
    info->timer_slack->raised = pma->slack_raised;
    info->timer_slack->slack_ns = pma->timer_slack_ns;
    info->timer_slack->threads = pma->slack_threads;
    info->timer_slack->raises = pma->slack_raises;
    info->timer_slack->coalesced = pma->slack_coalesced;
    for (i = pma->slack_failed->len; i > 0; i--) {
        QAPI_LIST_PREPEND(info->timer_slack->failed_threads,
                          g_array_index(pma->slack_failed, int, i - 1));
    }
    info->timer_slack->restore_pending = pma->slack_raised ? 0 :
        g_hash_table_size(pma->slack_saved);
    info->host_debounce_ms = pma->host_debounce_ms;
    info->host_requests = pma->host_requests;
    info->host_requests_coalesced = pma->host_coalesced;
    info->host_requests_pending = scan.pending;
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
    /* a request still waiting for the debounce goes with the device */
    vpsa->host_pending = false;
    paiov_pma_release_knob(vpsa, NULL);
    /* no longer listed: PM QoS and timer slack follow the others now */
    paiov_pma_update_framework(pma, true);
}

void paiov_pma_power_changed(PaiovPMA *pma, PaiovVPSA *vpsa,
                             PaiovPowerState old, PaiovPowerState new)
{
    /* a re-application (realize, policy, migration) is made at once */
    bool now = old == new || !pma->host_debounce_ms ||
               !runstate_is_running();

    trace_paiov_pma_power_changed(object_get_typename(OBJECT(vpsa->dev)),
                                  PaiovPowerState_str(old),
                                  PaiovPowerState_str(new));
    if (vpsa->host_pending) {
        /* superseded before it was made */
        paiov_pma_coalesced(pma, vpsa);
        vpsa->host_pending = false;
    }
    if (now || !vpsa->host_applied ||
        paiov_state_power(new) > paiov_state_power(vpsa->host_state)) {
        /* toward more power: the host must be ready at once */
        paiov_pma_apply(pma, vpsa);
    } else if (new == vpsa->host_state) {
        trace_paiov_pma_debounce(vpsa->path ?: "", PaiovPowerState_str(new),
                                 "already applied");
        paiov_pma_coalesced(pma, vpsa);
    } else {
        trace_paiov_pma_debounce(vpsa->path ?: "", PaiovPowerState_str(new),
                                 "deferred");
        vpsa->host_pending = true;
        paiov_pma_arm_debounce(pma);
    }
    paiov_pma_update_framework(pma, old == new);
}

/* Bring asynchronous host results up to date */
void paiov_pma_refresh(PaiovPMA *pma, PaiovVPSA *vpsa)
{
    PaiovHostRecord *rec = &vpsa->audio;
    AudioHostPower applied;
    Error *err = NULL;

    if (!vpsa->card || !rec->requests ||
        rec->result == PAIOV_HOST_ACTION_RESULT_UNSUPPORTED ||
        rec->result == PAIOV_HOST_ACTION_RESULT_FAILED) {
        return;
    }
    if (!AUD_get_host_power(vpsa->card, &applied, &err)) {
        paiov_host_failed(vpsa, rec, PAIOV_HOST_BACKEND_AUDIO,
                          error_get_pretty(err));
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
    paiov_pma_update_framework(pma, true);
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
    paiov_pma_update_framework(pma, true);
}

static void paiov_pma_get_debounce(Object *obj, Visitor *v,
                                   const char *name, void *opaque,
                                   Error **errp)
{
    visit_type_uint32(v, name, &PAIOV_PMA(obj)->host_debounce_ms, errp);
}

static void paiov_pma_set_debounce(Object *obj, Visitor *v,
                                   const char *name, void *opaque,
                                   Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value > PAIOV_PMA_DEBOUNCE_MAX_MS) {
        error_setg(errp, "paiov-pma property '%s' must be between 0 and "
                   "%u ms, not %" PRIu32, name, PAIOV_PMA_DEBOUNCE_MAX_MS,
                   value);
        return;
    }
    pma->host_debounce_ms = value;
    /* what waits is applied now; the new window starts with the next */
    paiov_pma_flush(pma);
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
    pma->slack_failed = g_array_new(false, false, sizeof(int));
    pma->slack_default = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    pma->main_tid = qemu_get_thread_id();
    pma->slack_bh = qemu_bh_new(paiov_pma_slack_bh, pma);
    pma->host_debounce_ms = PAIOV_PMA_DEBOUNCE_DEFAULT_MS;
    pma->debounce_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL,
                                       paiov_pma_debounce_timer, pma);
    pma->vm_change = qemu_add_vm_change_state_handler(paiov_pma_vm_change,
                                                      pma);
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
    /* no device is left (each holds a reference): nothing is pending */
    qemu_del_vm_change_state_handler(pma->vm_change);
    timer_free(pma->debounce_timer);
    pma->debounce_timer = NULL;
    qemu_bh_delete(pma->slack_bh);
    paiov_pma_timer_slack(pma, false);
    paiov_pma_pm_qos(pma, false);
    g_hash_table_destroy(pma->slack_saved);
    g_array_free(pma->slack_failed, true);
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
    object_class_property_add(oc, "host-debounce-ms", "uint32",
                              paiov_pma_get_debounce, paiov_pma_set_debounce,
                              NULL, NULL);
    object_class_property_set_description(oc, "host-debounce-ms",
        "Host requests toward less power (cork, release, runtime-PM low,"
        " dropping PM QoS, raising the timer slack) are made at most this"
        " often, the last wanted level winning; those toward more power at"
        " once (0: all at once, max 10000, default 50)");
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
