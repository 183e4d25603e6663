/*
 * PAIOV: query-paiov, query-paiov-pma and "info paiov"
 *
 * The one place that sees both sides: a device's virtual PSA (its state
 * and accounting) and its host side (what the proxy PMA did for it).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-paiov.h"
#include "qapi/qapi-visit-paiov.h"
#include "qom/object.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "hw/qdev-core.h"
#include "paiov/paiov-vpsa.h"
#include "paiov/paiov-pma.h"

static PaiovHostAction *paiov_host_action(PaiovHostBackend backend,
                                          PaiovHostRecord *rec)
{
    PaiovHostAction *a = g_new0(PaiovHostAction, 1);

    a->backend = backend;
    a->action = rec->action;
    a->result = rec->result;
    a->error = g_strdup(rec->error);
    a->requests = rec->requests;
    a->failures = rec->failures;
    a->coalesced = rec->coalesced;
    return a;
}

/* What the proxy PMA did for a device */
static void paiov_query_host(PaiovHost *host, PaiovDeviceInfo *info)
{
    int b;

    info->pma = object_get_canonical_path(OBJECT(host->pma));
    for (b = PAIOV_HOST_BACKEND__MAX - 1; b >= 0; b--) {
        if (host->records[b].requests) {
            QAPI_LIST_PREPEND(info->host_actions,
                              paiov_host_action(b, &host->records[b]));
        }
    }
    info->low_latency = paiov_host_low_latency(host);
    info->pm_qos_held = paiov_pma_pm_qos_held(host->pma);
    info->timer_slack_raised = paiov_pma_timer_slack_raised(host->pma);
}

static PaiovDeviceInfo *paiov_query_device(PaiovVPSA *vpsa)
{
    PaiovDeviceInfo *info = g_new0(PaiovDeviceInfo, 1);
    PaiovHost *host = paiov_host_find(vpsa);
    int s;

    if (host) {
        paiov_host_refresh(host);
    }
    info->qom_path = object_get_canonical_path(OBJECT(vpsa->dev));
    info->type = g_strdup(object_get_typename(OBJECT(vpsa->dev)));
    info->state = vpsa->state;
    for (s = PAIOV_POWER_STATE__MAX - 1; s >= 0; s--) {
        PaiovResidency *r = g_new0(PaiovResidency, 1);

        r->state = s;
        r->ms = paiov_vpsa_residency_ms(vpsa, s);
        QAPI_LIST_PREPEND(info->residency, r);
    }
    info->transitions = vpsa->transitions;
    info->last_reason = vpsa->last_reason;
    info->timer_armed = vpsa->ops->timer_armed &&
                        vpsa->ops->timer_armed(vpsa);
    info->idle_timeout_ms = vpsa->idle_timer ? vpsa->idle_timeout_ms : 0;
    info->accesses = vpsa->accesses;
    info->handler_ns = vpsa->handler_ns;
    info->wakeups = vpsa->wakeups;
    info->has_wakeups_avoided = vpsa->counts_avoided;
    info->wakeups_avoided = vpsa->wakeups_avoided;
    if (host) {
        paiov_query_host(host, info);
    } else {
        info->pma = g_strdup("");
    }
    if (vpsa->ops->query) {
        vpsa->ops->query(vpsa, info);
    }
    return info;
}

static void paiov_query_one(PaiovVPSA *vpsa, void *opaque)
{
    PaiovDeviceInfoList ***tail = opaque;

    QAPI_LIST_APPEND(*tail, paiov_query_device(vpsa));
}

PaiovDeviceInfoList *qmp_query_paiov(Error **errp)
{
    PaiovDeviceInfoList *list = NULL, **tail = &list;

    paiov_vpsa_foreach(paiov_query_one, &tail);
    return list;
}

/* The totals of a proxy PMA's devices */
static void paiov_query_pma_sum(PaiovHost *host, void *opaque)
{
    PaiovPmaInfo *info = opaque;
    PaiovDeviceInfo *d = paiov_query_device(host->vpsa);

    info->accesses += d->accesses;
    info->handler_ns += d->handler_ns;
    info->wakeups += d->wakeups;
    info->wakeups_avoided += d->wakeups_avoided;
    qapi_free_PaiovDeviceInfo(d);
}

static int paiov_query_pma_one(Object *obj, void *opaque)
{
    PaiovPmaInfoList ***tail = opaque;
    PaiovPMA *pma = (PaiovPMA *)object_dynamic_cast(obj, TYPE_PAIOV_PMA);
    PaiovPmaInfo *info;

    if (!pma) {
        return 0;
    }
    info = g_new0(PaiovPmaInfo, 1);
    paiov_pma_foreach_host(pma, paiov_query_pma_sum, info);
    paiov_pma_query(pma, info);
    QAPI_LIST_APPEND(*tail, info);
    return 0;
}

PaiovPmaInfoList *qmp_query_paiov_pma(Error **errp)
{
    PaiovPmaInfoList *list = NULL, **tail = &list;

    object_child_foreach(object_get_objects_root(), paiov_query_pma_one,
                         &tail);
    return list;
}

static void hmp_info_paiov_pma(Monitor *mon)
{
    g_autoptr(PaiovPmaInfoList) list = qmp_query_paiov_pma(NULL);
    PaiovPmaInfoList *l;

    for (l = list; l; l = l->next) {
        PaiovPmaInfo *p = l->value;
        PaiovTimerSlack *ts = p->timer_slack;

        monitor_printf(mon, "proxy PMA %s: policy %s, passive idle after %"
                       PRId64 " ms, %" PRId64 " of %" PRId64
                       " devices low-power\n", p->qom_path,
                       PaiovPolicy_str(p->policy), p->idle_timeout_ms,
                       p->low_power, p->devices);
        monitor_printf(mon, "  %" PRId64 " accesses, %" PRId64
                       " us in handlers, %" PRId64 " wakeups (%" PRId64
                       " avoided)\n", p->accesses, p->handler_ns / 1000,
                       p->wakeups, p->wakeups_avoided);
        monitor_printf(mon, "  %" PRId64 " host requests (%" PRId64
                       " coalesced, %" PRId64 " pending), debounce %"
                       PRId64 " ms\n", p->host_requests,
                       p->host_requests_coalesced, p->host_requests_pending,
                       p->host_debounce_ms);
        if (p->pm_qos) {
            monitor_printf(mon, "  PM QoS %" PRId64 " us: %s (%" PRId64
                           " requests, %" PRId64 " coalesced)%s%s\n",
                           p->pm_qos->latency_us,
                           p->pm_qos->held ? "held" : "released",
                           p->pm_qos->requests, p->pm_qos->coalesced,
                           p->pm_qos->error ? ": " : "",
                           p->pm_qos->error ?: "");
        }
        monitor_printf(mon, "  timer slack %s (%" PRId64 " ns, %" PRId64
                       " threads, %" PRId64 " raises, %" PRId64
                       " coalesced, %" PRId64 " restores pending)%s%s\n",
                       ts->raised ? "raised" : "default", ts->slack_ns,
                       ts->threads, ts->raises, ts->coalesced,
                       ts->restore_pending, ts->error ? ": " : "",
                       ts->error ?: "");
    }
}

void hmp_info_paiov(Monitor *mon, const QDict *qdict)
{
    g_autoptr(PaiovDeviceInfoList) list = qmp_query_paiov(NULL);
    PaiovDeviceInfoList *l;

    if (!list) {
        monitor_printf(mon, "No paiov devices\n");
        return;
    }
    for (l = list; l; l = l->next) {
        PaiovDeviceInfo *d = l->value;
        PaiovResidencyList *r;
        PaiovHostActionList *a;

        monitor_printf(mon, "%s (%s): %s, %" PRId64 " transitions, "
                       "last reason %s, timer %s\n", d->qom_path, d->type,
                       PaiovPowerState_str(d->state), d->transitions,
                       PaiovReason_str(d->last_reason),
                       d->timer_armed ? "armed" : "stopped");
        monitor_printf(mon, "  proxy PMA %s\n", d->pma);
        monitor_printf(mon, "  %" PRId64 " accesses, %" PRId64 " us in "
                       "handlers, %" PRId64 " wakeups", d->accesses,
                       d->handler_ns / 1000, d->wakeups);
        if (d->has_wakeups_avoided) {
            monitor_printf(mon, " (%" PRId64 " avoided)", d->wakeups_avoided);
        }
        monitor_printf(mon, ", passive idle after %" PRId64 " ms%s\n",
                       d->idle_timeout_ms,
                       d->low_latency ? ", needs low latency" : "");
        monitor_printf(mon, "  residency:");
        for (r = d->residency; r; r = r->next) {
            monitor_printf(mon, " %s %" PRId64 " ms",
                           PaiovPowerState_str(r->value->state),
                           r->value->ms);
        }
        monitor_printf(mon, "\n");
        for (a = d->host_actions; a; a = a->next) {
            PaiovHostAction *h = a->value;

            monitor_printf(mon, "  host %s: %s %s (%" PRId64 " requests, %"
                           PRId64 " failed, %" PRId64 " coalesced)%s%s\n",
                           PaiovHostBackend_str(h->backend),
                           PaiovHostActionKind_str(h->action),
                           PaiovHostActionResult_str(h->result),
                           h->requests, h->failures, h->coalesced,
                           h->error ? ": " : "", h->error ?: "");
        }
        if (d->display) {
            PaiovDisplayInfo *di = d->display;

            monitor_printf(mon, "  display: refresh %s, interval %" PRId64
                           " ms, %" PRId64 " refreshes (%" PRId64
                           " avoided), %" PRId64 " updates (%" PRId64
                           " avoided)%s\n",
                           di->refresh_parked ? "parked" : "running",
                           di->refresh_interval_ms, di->refreshes,
                           di->refreshes_avoided, di->updates,
                           di->updates_avoided,
                           di->still ? ", still" : "");
        }
    }
    hmp_info_paiov_pma(mon);
}
