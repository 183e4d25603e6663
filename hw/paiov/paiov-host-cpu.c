/*
 * PAIOV proxy PMA host backend: the CPU (PM QoS and timer slack)
 *
 * Per VM, not per device.  PM QoS: while a device that needs low latency
 * is active, /dev/cpu_dma_latency is held open with the latency written
 * to it (property pm-qos-latency-us); closing it drops the request.
 * Timer slack: while every device is low-power under the powersave
 * policy, the timer slack of every thread of QEMU is raised (property
 * timer-slack-ns) and later restored.  Dropping PM QoS and raising the
 * slack wait for the proxy PMA's debounce.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include <sys/prctl.h>
#include "paiov-host.h"
#include "trace.h"

#define PAIOV_PM_QOS_DEVICE "/dev/cpu_dma_latency"

static void paiov_host_cpu_set_error(char **slot, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void paiov_host_cpu_set_error(char **slot, const char *fmt, ...)
{
    va_list ap;

    g_free(*slot);
    va_start(ap, fmt);
    *slot = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void paiov_host_cpu_pm_qos(PaiovPMA *pma, bool want)
{
    int32_t value = pma->pm_qos_latency_us;

    if (want && pma->pm_qos_fd < 0) {
        int fd = qemu_open_old(PAIOV_PM_QOS_DEVICE, O_WRONLY);

        pma->pm_qos_requests++;
        if (fd < 0 || write(fd, &value, sizeof(value)) != sizeof(value)) {
            paiov_host_cpu_set_error(&pma->pm_qos_error, "%s: %s",
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
static bool paiov_host_cpu_write_proc(const char *path, const char *value,
                                      char **error)
{
    int fd = qemu_open_old(path, O_WRONLY);
    ssize_t len = strlen(value);
    bool ok = fd >= 0 && write(fd, value, len) == len;

    if (!ok) {
        paiov_host_cpu_set_error(error, "%s: %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* The timer slack of thread @tid of QEMU */
static bool paiov_host_cpu_thread_slack(PaiovPMA *pma, int tid, uint64_t *value)
{
    /* only /proc/TID has it, not /proc/self/task/TID */
    g_autofree char *path = g_strdup_printf("/proc/%d/timerslack_ns", tid);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        paiov_host_cpu_set_error(&pma->slack_error, "%s", err->message);
        return false;
    }
    *value = g_ascii_strtoull(text, NULL, 10);
    return true;
}

/*
 * Set the timer slack of thread @tid.  Another thread's needs
 * CAP_SYS_NICE; a thread may always set its own with prctl().
 */
static bool paiov_host_cpu_thread_set_slack(PaiovPMA *pma, int tid,
                                            uint64_t value)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;

    if (tid == qemu_get_thread_id()) {
        if (prctl(PR_SET_TIMERSLACK, (unsigned long)value, 0, 0, 0)) {
            paiov_host_cpu_set_error(&pma->slack_error,
                                "prctl(PR_SET_TIMERSLACK): %s",
                                strerror(errno));
            return false;
        }
        return true;
    }
    path = g_strdup_printf("/proc/%d/timerslack_ns", tid);
    text = g_strdup_printf("%" PRIu64, value);
    return paiov_host_cpu_write_proc(path, text, &pma->slack_error);
}

static gboolean paiov_host_cpu_slack_gone(gpointer key, gpointer value,
                                          gpointer seen)
{
    return !g_hash_table_contains(seen, key);
}

/*
 * One thread in a pass of paiov_host_cpu_timer_slack().  Returns 1 if
 * the thread has the slack wanted now, 0 if it was left alone or its
 * slack could not be read, -1 if setting it failed.
 */
static int paiov_host_cpu_slack_thread(PaiovPMA *pma, int tid, bool raise)
{
    gpointer key = GINT_TO_POINTER(tid);
    uint64_t *saved = g_hash_table_lookup(pma->slack_saved, key);
    uint64_t cur = 0, value;

    if (saved && raise) {
        return 1;               /* still raised from before */
    }
    if (saved) {
        value = *saved;
    } else if (!paiov_host_cpu_thread_slack(pma, tid, &cur)) {
        g_array_append_val(pma->slack_failed, tid);
        return 0;
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
        return 0;               /* never raised by us */
    }
    if (!paiov_host_cpu_thread_set_slack(pma, tid, value)) {
        g_array_append_val(pma->slack_failed, tid);
        return -1;
    }
    if (raise) {
        saved = g_new(uint64_t, 1);
        *saved = cur;
        g_hash_table_insert(pma->slack_saved, key, saved);
    } else {
        g_hash_table_remove(pma->slack_saved, key);
    }
    return 1;
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
static void paiov_host_cpu_timer_slack(PaiovPMA *pma, bool raise)
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
        paiov_host_cpu_set_error(&pma->slack_error, "%s", gerr->message);
        return;
    }
    g_free(pma->slack_error);
    pma->slack_error = NULL;
    g_array_set_size(pma->slack_failed, 0);
    seen = g_hash_table_new(NULL, NULL);
    while ((name = g_dir_read_name(dir))) {
        int tid = atoi(name);
        int ret;

        g_hash_table_add(seen, GINT_TO_POINTER(tid));
        ret = paiov_host_cpu_slack_thread(pma, tid, raise);
        done += ret > 0;
        main_failed |= ret < 0 && tid == pma->main_tid;
    }
    g_hash_table_foreach_remove(pma->slack_saved, paiov_host_cpu_slack_gone,
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
static void paiov_host_cpu_slack_bh(void *opaque)
{
    PaiovPMA *pma = opaque;

    if (!pma->slack_raised) {
        paiov_host_cpu_timer_slack(pma, false);
    }
}

/*
 * After any change (the caller sets @now when the VM does not run or
 * nothing is debounced): what the host PM framework should hold for this
 * VM.
 * Holding PM QoS and restoring the timer slack happen at once; dropping
 * PM QoS and raising the slack wait for the debounce unless @now.
 */
static void paiov_host_cpu_update(PaiovPMA *pma, const PaiovPmaScan *scan,
                                  bool now)
{
    bool qos = pma->pm_qos_latency_us >= 0 && scan->low_latency;
    bool slack = pma->policy == PAIOV_POLICY_POWERSAVE && scan->devices &&
                 scan->low_power == scan->devices;

    if (pma->pm_qos_drop_pending && qos) {
        pma->pm_qos_coalesced++;
    }
    pma->pm_qos_drop_pending = false;
    if (qos || now) {
        paiov_host_cpu_pm_qos(pma, qos);
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
        paiov_host_cpu_timer_slack(pma, slack);
    } else if (!pma->slack_raised) {
        pma->slack_raise_pending = true;
        paiov_pma_arm_debounce(pma);
    }
}

static void paiov_host_cpu_get_pm_qos(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    visit_type_int32(v, name, &PAIOV_PMA(obj)->pm_qos_latency_us, errp);
}

static void paiov_host_cpu_set_pm_qos(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
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
    paiov_host_cpu_pm_qos(pma, false);
    pma->pm_qos_latency_us = value;
    paiov_pma_update(pma, true);
}

static void paiov_host_cpu_get_slack(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    visit_type_uint64(v, name, &PAIOV_PMA(obj)->timer_slack_ns, errp);
}

static void paiov_host_cpu_set_slack(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
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
    paiov_host_cpu_timer_slack(pma, false);
    pma->timer_slack_ns = value;
    paiov_pma_update(pma, true);
}

bool paiov_pma_pm_qos_held(PaiovPMA *pma)
{
    return pma->pm_qos_fd >= 0;
}

bool paiov_pma_timer_slack_raised(PaiovPMA *pma)
{
    return pma->slack_raised;
}

static void paiov_host_cpu_query(PaiovPMA *pma, PaiovPmaInfo *info)
{
    guint i;

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
    info->timer_slack->error = g_strdup(pma->slack_error);
}

/* QEMU exits or the object goes: the VM holds nothing any more */
static void paiov_host_cpu_exit(PaiovPMA *pma)
{
    paiov_host_cpu_timer_slack(pma, false);
    paiov_host_cpu_pm_qos(pma, false);
}

static void paiov_host_cpu_instance_init(PaiovPMA *pma)
{
    pma->pm_qos_latency_us = -1;
    pma->pm_qos_fd = -1;
    pma->timer_slack_ns = 20 * SCALE_MS;
    pma->slack_saved = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    pma->slack_failed = g_array_new(false, false, sizeof(int));
    pma->slack_default = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    pma->main_tid = qemu_get_thread_id();
    pma->slack_bh = qemu_bh_new(paiov_host_cpu_slack_bh, pma);
}

static void paiov_host_cpu_instance_finalize(PaiovPMA *pma)
{
    qemu_bh_delete(pma->slack_bh);
    paiov_host_cpu_exit(pma);
    g_hash_table_destroy(pma->slack_saved);
    g_array_free(pma->slack_failed, true);
    g_free(pma->pm_qos_error);
    g_free(pma->slack_error);
}

static void paiov_host_cpu_class_init(ObjectClass *oc)
{
    object_class_property_add(oc, "pm-qos-latency-us", "int32",
                              paiov_host_cpu_get_pm_qos,
                              paiov_host_cpu_set_pm_qos, NULL, NULL);
    object_class_property_set_description(oc, "pm-qos-latency-us",
        "CPU latency requested from the host (/dev/cpu_dma_latency) while"
        " a device that needs low latency is active (-1, default: none)");
    object_class_property_add(oc, "timer-slack-ns", "uint64",
                              paiov_host_cpu_get_slack,
                              paiov_host_cpu_set_slack, NULL, NULL);
    object_class_property_set_description(oc, "timer-slack-ns",
        "Timer slack of QEMU's threads while every device is low-power"
        " under the powersave policy (default 20000000)");
}

const PaiovHostBackendOps paiov_host_cpu_ops = {
    .name = "cpu",
    .backend = -1,
    .class_init = paiov_host_cpu_class_init,
    .instance_init = paiov_host_cpu_instance_init,
    .instance_finalize = paiov_host_cpu_instance_finalize,
    .update = paiov_host_cpu_update,
    .exit = paiov_host_cpu_exit,
    .query = paiov_host_cpu_query,
};
