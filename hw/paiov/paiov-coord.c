/*
 * PAIOV proxy PMA: coordination with the other proxy PMAs of the host
 *
 * Section 4.3 of the PAIOV paper: the proxy PMAs of a host pool their
 * wakeups and serve SLA classes.  The host coordinator, paiovd, joins
 * this QEMU over QMP (property paiovd: a reconnecting client socket with
 * a control monitor on it) and gives every proxy PMA the same grid on
 * CLOCK_MONOTONIC (properties align-period-us, align-phase-us, through
 * qom-set).  The proxy PMA gives its devices' virtual PSAs a function
 * that moves deferrable work onto that grid (paiov_vpsa_set_align()):
 * the virtual PSA does not call the proxy PMA, it is given a callback;
 * the audio backend does the same for the audio timer of a device's
 * sound card and of the cards that follow it, each on its audiodev
 * (AUD_set_timer_align(), patch 0040; an audiodev shared with another
 * PMA's card fires at the earlier of the two, docs/design.md).
 * Under sla=strict nothing is ever delayed; under sla=relaxed work waits
 * for the next tick at most max-delay-ms.  With no grid (period 0, the
 * default, and always without paiovd) nothing changes.
 *
 * Under qtest the grid is on the deadline's own clock (the virtual
 * clock), so that tests are deterministic.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-visit-sockets.h"
#include "chardev/char.h"
#include "monitor/monitor.h"
#include "system/qtest.h"
#include "paiov/paiov-align.h"
#include "paiov-host.h"
#include "trace.h"

#define PAIOV_COORD_MAX_DELAY_DEFAULT_MS 50
#define PAIOV_COORD_MAX_DELAY_MAX_MS 60000u
#define PAIOV_COORD_PERIOD_MAX_US 60000000u
#define PAIOV_COORD_RECONNECT_MS 1000
#define PAIOV_COORD_SLOP_NS 1000

/* The grid as the proxy PMA's settings give it */
static void paiov_coord_grid(PaiovPMA *pma, PaiovAlign *a)
{
    a->period_ns = (int64_t)pma->align_period_us * SCALE_US;
    a->phase_ns = a->period_ns ?
        (int64_t)pma->align_phase_us * SCALE_US % a->period_ns : 0;
    a->max_delay_ns = (int64_t)pma->max_delay_ms * SCALE_MS;
    a->strict = pma->sla == PAIOV_SLA_STRICT;
}

/*
 * When deferrable work due at @deadline on clock @type runs, for @pma;
 * with @account, the move (or not) is counted in its statistics
 */
static int64_t paiov_coord_place(PaiovPMA *pma, QEMUClockType type,
                                 int64_t deadline, bool account)
{
    PaiovAlign a;
    int64_t now, host_now, t;

    paiov_coord_grid(pma, &a);
    if (!a.period_ns) {
        return deadline;
    }
    if (qtest_enabled()) {
        t = paiov_align_deadline(&a, deadline);
    } else {
        /*
         * The grid is on CLOCK_MONOTONIC (get_clock()), host-wide.  The
         * two clocks are read one after the other, so a deadline made on
         * a tick (the audio timer's next period) comes out up to the
         * time between the reads off it, and a few ns past a tick would
         * wait a whole period: within PAIOV_COORD_SLOP_NS of a tick it is
         * on the tick.  Callers never run work before its deadline.
         */
        now = qemu_clock_get_ns(type);
        host_now = get_clock();
        t = paiov_align_deadline(&a, deadline - now + host_now -
                                     PAIOV_COORD_SLOP_NS) -
            host_now + now;
    }
    if (!account) {
        return t;
    }
    if (t > deadline) {
        pma->align_moved++;
        pma->align_delay_ns += t - deadline;
        pma->align_max_delay_ns = MAX(pma->align_max_delay_ns,
                                      t - deadline);
    } else {
        pma->align_kept++;
    }
    trace_paiov_coord_align(type, deadline, t);
    return t;
}

/* PaiovVPSAAlignFn of the devices of @opaque, a PaiovPMA */
static int64_t paiov_coord_align(void *opaque, QEMUClockType type,
                                 int64_t deadline)
{
    return paiov_coord_place(opaque, type, deadline, true);
}

int64_t paiov_pma_align_virtual(void *opaque, int64_t deadline, bool account)
{
    return paiov_coord_place(opaque, QEMU_CLOCK_VIRTUAL, deadline, account);
}

static bool paiov_coord_attach(PaiovPMA *pma, PaiovHost *host, Error **errp)
{
    paiov_vpsa_set_align(host->vpsa, paiov_coord_align, pma);
    return true;
}

static void paiov_coord_release(PaiovHost *host)
{
    if (host->vpsa) {
        paiov_vpsa_set_align(host->vpsa, NULL, NULL);
    }
}

/*
 * paiovd=PATH: a control monitor on a client socket that reconnects in
 * the background, as -chardev socket,path=PATH,server=off,reconnect-ms=
 * 1000 -mon chardev=...,mode=control would: nothing waits for the daemon.
 */
static bool paiov_coord_complete(PaiovPMA *pma, Error **errp)
{
    ERRP_GUARD();
    g_autofree char *id = NULL;
    ChardevBackend *backend;
    ChardevSocket *sock;
    SocketAddressLegacy *addr;
    Chardev *chr;

    if (!pma->paiovd) {
        return true;
    }
    addr = g_new0(SocketAddressLegacy, 1);
    addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    addr->u.q_unix.data = g_new0(UnixSocketAddress, 1);
    addr->u.q_unix.data->path = g_strdup(pma->paiovd);
    sock = g_new0(ChardevSocket, 1);
    sock->addr = addr;
    sock->has_server = true;
    sock->server = false;
    sock->has_reconnect_ms = true;
    sock->reconnect_ms = PAIOV_COORD_RECONNECT_MS;
    backend = g_new0(ChardevBackend, 1);
    backend->type = CHARDEV_BACKEND_KIND_SOCKET;
    backend->u.socket.data = sock;

    id = g_strdup_printf("%s-paiovd",
                         object_get_canonical_path_component(OBJECT(pma)));
    chr = qemu_chardev_new(id, TYPE_CHARDEV_SOCKET, backend, NULL, errp);
    qapi_free_ChardevBackend(backend);
    if (!chr) {
        return false;
    }
    monitor_init_qmp(chr, false, errp);
    if (*errp) {
        object_unparent(OBJECT(chr));
        return false;
    }
    pma->paiovd_chr = chr;
    trace_paiov_coord_paiovd(pma->paiovd, id);
    return true;
}

static char *paiov_coord_get_paiovd(Object *obj, Error **errp)
{
    return g_strdup(PAIOV_PMA(obj)->paiovd);
}

static void paiov_coord_set_paiovd(Object *obj, const char *value,
                                   Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    if (pma->paiovd_chr) {
        error_setg(errp, "paiov-pma property 'paiovd' can only be set"
                   " when the object is created");
        return;
    }
    g_free(pma->paiovd);
    pma->paiovd = value && *value ? g_strdup(value) : NULL;
}

static int paiov_coord_get_sla(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->sla;
}

static void paiov_coord_set_sla(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->sla = value;
}

typedef struct PaiovCoordU32 {
    size_t offset;
    uint32_t max;
    const char *unit;
} PaiovCoordU32;

static const PaiovCoordU32 paiov_coord_period = {
    offsetof(PaiovPMA, align_period_us), PAIOV_COORD_PERIOD_MAX_US, "us"
};
static const PaiovCoordU32 paiov_coord_phase = {
    offsetof(PaiovPMA, align_phase_us), PAIOV_COORD_PERIOD_MAX_US, "us"
};
static const PaiovCoordU32 paiov_coord_delay = {
    offsetof(PaiovPMA, max_delay_ms), PAIOV_COORD_MAX_DELAY_MAX_MS, "ms"
};

static void paiov_coord_get_u32(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    const PaiovCoordU32 *p = opaque;

    visit_type_uint32(v, name, (uint32_t *)((char *)obj + p->offset), errp);
}

/* Takes effect at the next deadline a device arms */
static void paiov_coord_set_u32(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    const PaiovCoordU32 *p = opaque;
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value > p->max) {
        error_setg(errp, "paiov-pma property '%s' must be between 0 and "
                   "%" PRIu32 " %s, not %" PRIu32, name, p->max, p->unit,
                   value);
        return;
    }
    *(uint32_t *)((char *)obj + p->offset) = value;
    trace_paiov_coord_set(name, value);
}

bool paiov_host_display_idle_rate(const PaiovHost *host)
{
    return host->pma && host->pma->display_idle_rate;
}

static bool paiov_coord_get_idle_rate(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->display_idle_rate;
}

static void paiov_coord_set_idle_rate(Object *obj, bool value, Error **errp)
{
    PAIOV_PMA(obj)->display_idle_rate = value;
    trace_paiov_coord_set("display-idle-rate", value);
}

static void paiov_coord_class_init(ObjectClass *oc)
{
    object_class_property_add_str(oc, "paiovd", paiov_coord_get_paiovd,
                                  paiov_coord_set_paiovd);
    object_class_property_set_description(oc, "paiovd",
        "Join the host coordinator paiovd: its unix socket, connected in"
        " the background and again whenever it comes back (default: none)");
    object_class_property_add(oc, "align-period-us", "uint32",
                              paiov_coord_get_u32, paiov_coord_set_u32,
                              NULL, (void *)&paiov_coord_period);
    object_class_property_set_description(oc, "align-period-us",
        "Period of the host-wide grid (CLOCK_MONOTONIC) that deferrable"
        " device work is moved to; set by paiovd (0: none, the default)");
    object_class_property_add(oc, "align-phase-us", "uint32",
                              paiov_coord_get_u32, paiov_coord_set_u32,
                              NULL, (void *)&paiov_coord_phase);
    object_class_property_set_description(oc, "align-phase-us",
        "Phase of the grid's ticks (modulo the period; default 0)");
    object_class_property_add_enum(oc, "sla", "PaiovSla", &PaiovSla_lookup,
                                   paiov_coord_get_sla, paiov_coord_set_sla);
    object_class_property_set_description(oc, "sla",
        "strict: deferrable work is never delayed; relaxed (default): it"
        " waits for the grid's next tick, at most max-delay-ms");
    object_class_property_add(oc, "max-delay-ms", "uint32",
                              paiov_coord_get_u32, paiov_coord_set_u32,
                              NULL, (void *)&paiov_coord_delay);
    object_class_property_set_description(oc, "max-delay-ms",
        "How long relaxed deferrable work may wait for a tick (default"
        " 50, max 60000)");
    object_class_property_add_bool(oc, "display-idle-rate",
                                   paiov_coord_get_idle_rate,
                                   paiov_coord_set_idle_rate);
    object_class_property_set_description(oc, "display-idle-rate",
        "Refresh the displays of the devices at the idle rate (every"
        " 3 s); set by paiovd while it throttles (default off)");
}

static void paiov_coord_instance_init(PaiovPMA *pma)
{
    pma->sla = PAIOV_SLA_RELAXED;
    pma->max_delay_ms = PAIOV_COORD_MAX_DELAY_DEFAULT_MS;
}

static void paiov_coord_instance_finalize(PaiovPMA *pma)
{
    /* the monitor stays with its chardev: monitors are never removed */
    g_free(pma->paiovd);
    pma->paiovd = NULL;
}

static void paiov_coord_query(PaiovPMA *pma, PaiovPmaInfo *info)
{
    PaiovPmaCoordination *c = g_new0(PaiovPmaCoordination, 1);

    c->paiovd = g_strdup(pma->paiovd);
    c->connected = pma->paiovd_chr &&
        object_property_get_bool(OBJECT(pma->paiovd_chr), "connected", NULL);
    c->align_period_us = pma->align_period_us;
    c->align_phase_us = pma->align_phase_us;
    c->sla = pma->sla;
    c->max_delay_ms = pma->max_delay_ms;
    c->aligned = pma->align_moved;
    c->not_aligned = pma->align_kept;
    c->delay_ns = pma->align_delay_ns;
    c->max_observed_delay_ns = pma->align_max_delay_ns;
    info->coordination = c;
}

const PaiovHostBackendOps paiov_coord_ops = {
    .name = "coordination",
    .backend = -1,
    .class_init = paiov_coord_class_init,
    .instance_init = paiov_coord_instance_init,
    .instance_finalize = paiov_coord_instance_finalize,
    .complete = paiov_coord_complete,
    .attach = paiov_coord_attach,
    .release = paiov_coord_release,
    .query = paiov_coord_query,
};
