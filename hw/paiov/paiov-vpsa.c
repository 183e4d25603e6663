/*
 * PAIOV virtual power state agent (virtual PSA): the state machine
 *
 * Device models feed the virtual PSA with what the guest does: the PCI
 * power state it wrote to PMCSR and whether any device function (an audio
 * channel, the display, receive/transmit) is enabled.  The core derives
 * the power state from these inputs; paiov_vpsa_set_state() is the only
 * function that changes it, checked against the transition table below.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qemu/queue.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-events-paiov.h"
#include "hw/qdev-core.h"
#include "paiov/paiov.h"
#include "trace.h"

static QTAILQ_HEAD(, PaiovVPSA) paiov_vpsas =
    QTAILQ_HEAD_INITIALIZER(paiov_vpsas);

#define R(reason) (1u << PAIOV_REASON_##reason)
#define MIGRATION_RESET (R(MIGRATION) | R(RESET))

/*
 * Allowed transitions: paiov_transitions[from][to] is the set of reasons
 * for which a virtual PSA may go from @from to @to.  The diagonal is empty:
 * a state never transitions to itself.
 */
static const uint32_t paiov_transitions[PAIOV_POWER_STATE__MAX]
                                       [PAIOV_POWER_STATE__MAX] = {
    [PAIOV_POWER_STATE_ACTIVE] = {
        [PAIOV_POWER_STATE_IDLE] = R(DEVICE_IDLE) | MIGRATION_RESET,
        [PAIOV_POWER_STATE_D3HOT] = R(PMCSR) | R(MIGRATION),
    },
    [PAIOV_POWER_STATE_IDLE] = {
        [PAIOV_POWER_STATE_ACTIVE] = R(DEVICE_ACTIVE) | R(MIGRATION),
        [PAIOV_POWER_STATE_D3HOT] = R(PMCSR) | R(MIGRATION),
    },
    [PAIOV_POWER_STATE_D3HOT] = {
        [PAIOV_POWER_STATE_ACTIVE] = R(PMCSR) | R(MIGRATION),
        [PAIOV_POWER_STATE_IDLE] = R(PMCSR) | MIGRATION_RESET,
    },
};

bool paiov_transition_allowed(PaiovPowerState from, PaiovPowerState to,
                              PaiovReason reason)
{
    return from < PAIOV_POWER_STATE__MAX && to < PAIOV_POWER_STATE__MAX &&
           reason < PAIOV_REASON__MAX &&
           (paiov_transitions[from][to] & (1u << reason));
}

static PaiovPowerState paiov_vpsa_derive(PaiovVPSA *vpsa)
{
    if (vpsa->dstate == 3) {
        return PAIOV_POWER_STATE_D3HOT;
    }
    return vpsa->functions_enabled ? PAIOV_POWER_STATE_ACTIVE
                                   : PAIOV_POWER_STATE_IDLE;
}

static void paiov_vpsa_account(PaiovVPSA *vpsa)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    vpsa->residency_ns[vpsa->state] += now - vpsa->entered_ns;
    vpsa->entered_ns = now;
}

/* Make the device and the host follow a state the core has set */
static void paiov_vpsa_apply(PaiovVPSA *vpsa, PaiovPowerState old)
{
    if (vpsa->ops->power_changed) {
        vpsa->ops->power_changed(vpsa, old, vpsa->state);
    }
    if (vpsa->pma) {
        paiov_pma_power_changed(vpsa->pma, vpsa, old, vpsa->state);
    }
}

int paiov_vpsa_set_state(PaiovVPSA *vpsa, PaiovPowerState state,
                         PaiovReason reason)
{
    PaiovPowerState old = vpsa->state;
    g_autofree char *path = NULL;

    if (state == old) {
        return -EALREADY;
    }
    if (!paiov_transition_allowed(old, state, reason)) {
        trace_paiov_vpsa_refused(object_get_typename(OBJECT(vpsa->dev)),
                                 PaiovPowerState_str(old),
                                 PaiovPowerState_str(state),
                                 PaiovReason_str(reason));
        return -EINVAL;
    }

    paiov_vpsa_account(vpsa);
    vpsa->state = state;
    vpsa->transitions++;
    vpsa->last_reason = reason;
    trace_paiov_vpsa_state(object_get_typename(OBJECT(vpsa->dev)),
                           PaiovPowerState_str(old),
                           PaiovPowerState_str(state),
                           PaiovReason_str(reason));

    paiov_vpsa_apply(vpsa, old);

    path = object_get_canonical_path(OBJECT(vpsa->dev));
    qapi_event_send_paiov_power_state_change(path ?: "", old, state, reason);
    return 0;
}

static void paiov_vpsa_update(PaiovVPSA *vpsa, PaiovReason reason)
{
    paiov_vpsa_set_state(vpsa, paiov_vpsa_derive(vpsa), reason);
}

void paiov_vpsa_set_dstate(PaiovVPSA *vpsa, uint8_t dstate)
{
    assert(dstate == 0 || dstate == 3);
    if (vpsa->dstate != dstate) {
        vpsa->dstate = dstate;
        paiov_vpsa_update(vpsa, PAIOV_REASON_PMCSR);
    }
}

void paiov_vpsa_set_functions_enabled(PaiovVPSA *vpsa, bool enabled)
{
    if (vpsa->functions_enabled != enabled) {
        vpsa->functions_enabled = enabled;
        paiov_vpsa_update(vpsa, enabled ? PAIOV_REASON_DEVICE_ACTIVE
                                        : PAIOV_REASON_DEVICE_IDLE);
    }
}

void paiov_vpsa_reset(PaiovVPSA *vpsa)
{
    vpsa->dstate = 0;
    vpsa->functions_enabled = false;
    paiov_vpsa_update(vpsa, PAIOV_REASON_RESET);
}

void paiov_vpsa_init(PaiovVPSA *vpsa, DeviceState *dev,
                     const PaiovVPSAOps *ops)
{
    vpsa->dev = dev;
    vpsa->ops = ops;
    vpsa->state = PAIOV_POWER_STATE_IDLE;
    vpsa->last_reason = PAIOV_REASON_REALIZE;
}

bool paiov_vpsa_realize(PaiovVPSA *vpsa, PaiovPMA *pma, Error **errp)
{
    if (!pma) {
        pma = paiov_pma_get_default(errp);
        if (!pma) {
            return false;
        }
    }
    if (!paiov_pma_attach(pma, vpsa, errp)) {
        return false;
    }
    vpsa->pma = PAIOV_PMA(object_ref(OBJECT(pma)));
    vpsa->entered_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    QTAILQ_INSERT_TAIL(&paiov_vpsas, vpsa, next);
    trace_paiov_vpsa_realize(object_get_typename(OBJECT(vpsa->dev)),
                             PaiovPowerState_str(vpsa->state));
    /* the host follows the initial state too */
    paiov_vpsa_apply(vpsa, vpsa->state);
    return true;
}

void paiov_vpsa_unrealize(PaiovVPSA *vpsa)
{
    if (vpsa->pma) {
        QTAILQ_REMOVE(&paiov_vpsas, vpsa, next);
        paiov_pma_detach(vpsa->pma, vpsa);
        object_unref(OBJECT(vpsa->pma));
        vpsa->pma = NULL;
    }
    g_free(vpsa->audio.error);
    vpsa->audio.error = NULL;
    g_free(vpsa->runtime_pm.error);
    vpsa->runtime_pm.error = NULL;
}

void paiov_vpsa_foreach(void (*fn)(PaiovVPSA *vpsa, void *opaque),
                        void *opaque)
{
    PaiovVPSA *vpsa, *next;

    QTAILQ_FOREACH_SAFE(vpsa, &paiov_vpsas, next, next) {
        fn(vpsa, opaque);
    }
}

int64_t paiov_vpsa_residency_ms(PaiovVPSA *vpsa, PaiovPowerState state)
{
    int64_t ns = vpsa->residency_ns[state];

    if (state == vpsa->state) {
        ns += qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) - vpsa->entered_ns;
    }
    return ns / SCALE_MS;
}

static PaiovHostAction *paiov_host_action(const char *backend,
                                          PaiovHostRecord *rec)
{
    PaiovHostAction *a = g_new0(PaiovHostAction, 1);

    a->backend = g_strdup(backend);
    a->action = g_strdup(rec->action);
    a->result = rec->result;
    a->error = g_strdup(rec->error);
    a->requests = rec->requests;
    a->failures = rec->failures;
    return a;
}

PaiovDeviceInfo *paiov_vpsa_query(PaiovVPSA *vpsa)
{
    PaiovDeviceInfo *info = g_new0(PaiovDeviceInfo, 1);
    int s;

    if (vpsa->pma) {
        paiov_pma_refresh(vpsa->pma, vpsa);
    }
    info->qom_path = object_get_canonical_path(OBJECT(vpsa->dev));
    info->type = g_strdup(object_get_typename(OBJECT(vpsa->dev)));
    info->pma = vpsa->pma ? object_get_canonical_path(OBJECT(vpsa->pma))
                          : g_strdup("");
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
    if (vpsa->runtime_pm.action) {
        QAPI_LIST_PREPEND(info->host_actions,
                          paiov_host_action("runtime-pm",
                                            &vpsa->runtime_pm));
    }
    if (vpsa->audio.action) {
        QAPI_LIST_PREPEND(info->host_actions,
                          paiov_host_action("audio", &vpsa->audio));
    }
    if (vpsa->ops->query) {
        vpsa->ops->query(vpsa, info);
    }
    return info;
}

PaiovDeviceInfoList *paiov_query_all(void)
{
    PaiovDeviceInfoList *list = NULL, **tail = &list;
    PaiovVPSA *vpsa;

    QTAILQ_FOREACH(vpsa, &paiov_vpsas, next) {
        QAPI_LIST_APPEND(tail, paiov_vpsa_query(vpsa));
    }
    return list;
}

/* Migration: the guest-visible inputs and the state they imply */

/* The destination starts in the reset state (D0, idle): nothing to send */
bool paiov_vpsa_migration_needed(const PaiovVPSA *vpsa)
{
    return vpsa->state != PAIOV_POWER_STATE_IDLE || vpsa->dstate != 0 ||
           vpsa->functions_enabled;
}

static int paiov_vpsa_pre_load(void *opaque)
{
    PaiovVPSA *vpsa = opaque;

    vpsa->state_before_load = vpsa->state;
    return 0;
}

static int paiov_vpsa_post_load(void *opaque, int version_id)
{
    PaiovVPSA *vpsa = opaque;
    PaiovPowerState loaded = vpsa->state;
    PaiovPowerState old = vpsa->state_before_load;

    if ((vpsa->dstate != 0 && vpsa->dstate != 3) ||
        loaded >= PAIOV_POWER_STATE__MAX ||
        loaded != paiov_vpsa_derive(vpsa)) {
        error_report("paiov: invalid virtual PSA state in migration stream"
                     " (state %u, D%u, functions %s)", loaded, vpsa->dstate,
                     vpsa->functions_enabled ? "enabled" : "disabled");
        return -EINVAL;
    }

    vpsa->state = old;
    if (paiov_vpsa_set_state(vpsa, loaded, PAIOV_REASON_MIGRATION) ==
        -EALREADY) {
        /* same state: host effects are not migrated, apply them here */
        paiov_vpsa_apply(vpsa, loaded);
    }
    return 0;
}

const VMStateDescription vmstate_paiov_vpsa = {
    .name = "paiov-vpsa",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = paiov_vpsa_pre_load,
    .post_load = paiov_vpsa_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(dstate, PaiovVPSA),
        VMSTATE_BOOL(functions_enabled, PaiovVPSA),
        VMSTATE_UINT32(state, PaiovVPSA),
        VMSTATE_END_OF_LIST()
    }
};
