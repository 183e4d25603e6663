/*
 * PAIOV: query-paiov and "info paiov"
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-paiov.h"
#include "qapi/qapi-visit-paiov.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "paiov/paiov.h"

PaiovDeviceInfoList *qmp_query_paiov(Error **errp)
{
    return paiov_query_all();
}

PaiovPmaInfoList *qmp_query_paiov_pma(Error **errp)
{
    return paiov_pma_query_all();
}

static void hmp_info_paiov_pma(Monitor *mon)
{
    g_autoptr(PaiovPmaInfoList) list = paiov_pma_query_all();
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
        if (p->pm_qos) {
            monitor_printf(mon, "  PM QoS %" PRId64 " us: %s (%" PRId64
                           " requests)%s%s\n", p->pm_qos->latency_us,
                           p->pm_qos->held ? "held" : "released",
                           p->pm_qos->requests,
                           p->pm_qos->error ? ": " : "",
                           p->pm_qos->error ?: "");
        }
        monitor_printf(mon, "  timer slack %s (%" PRId64 " ns, %" PRId64
                       " threads, %" PRId64 " raises)%s%s\n",
                       ts->raised ? "raised" : "default", ts->slack_ns,
                       ts->threads, ts->raises, ts->error ? ": " : "",
                       ts->error ?: "");
    }
}

void hmp_info_paiov(Monitor *mon, const QDict *qdict)
{
    g_autoptr(PaiovDeviceInfoList) list = paiov_query_all();
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
                           PRId64 " failed)%s%s\n",
                           PaiovHostBackend_str(h->backend),
                           PaiovHostActionKind_str(h->action),
                           PaiovHostActionResult_str(h->result),
                           h->requests, h->failures,
                           h->error ? ": " : "", h->error ?: "");
        }
        if (d->display) {
            PaiovDisplayInfo *di = d->display;

            monitor_printf(mon, "  display: refresh %s, interval %" PRId64
                           " ms, %" PRId64 " refreshes (%" PRId64
                           " avoided), %" PRId64 " updates (%" PRId64
                           " avoided)\n",
                           di->refresh_parked ? "parked" : "running",
                           di->refresh_interval_ms, di->refreshes,
                           di->refreshes_avoided, di->updates,
                           di->updates_avoided);
        }
    }
    hmp_info_paiov_pma(mon);
}
