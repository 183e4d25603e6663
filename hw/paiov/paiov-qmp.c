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
                           PRId64 " failed)%s%s\n", h->backend, h->action,
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
}
