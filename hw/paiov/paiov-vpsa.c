/*
 * PAIOV virtual power state agent (virtual PSA): the state machine
 *
 * Device models feed the virtual PSA with what the guest does: the PCI
 * power state it wrote to PMCSR and whether any device function (an audio
 * channel, the display, receive/transmit) is enabled.  The core derives
 * the power state from these inputs; paiov_vpsa_set_state() is the only
 * function that changes it, checked against the transition table below.
 * The device is told of each transition, then the listeners (the proxy
 * PMA).  Nothing here knows the proxy PMA or the host.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qemu/queue.h"
#include "qemu/error-report.h"
#include "exec/memory.h"
#include "qapi/qapi-events-paiov.h"
#include "system/qtest.h"
#include "hw/qdev-core.h"
#include "paiov/paiov-vpsa.h"
#include "trace.h"

static QTAILQ_HEAD(, PaiovVPSA) paiov_vpsas =
    QTAILQ_HEAD_INITIALIZER(paiov_vpsas);

#define R(reason) (1u << PAIOV_REASON_##reason)
#define MIGRATION_RESET (R(MIGRATION) | R(RESET))

/*
 * Allowed transitions: paiov_transitions[from][to] is the set of reasons
 * for which a virtual PSA may go from @from to @to.  The diagonal is empty:
 * a state never transitions to itself.  A migration derives the state
 * from the migrated inputs (D-state, device functions), as a guest write
 * does: it never leads into passive idle, which only inactivity enters.
 */
static const uint32_t paiov_transitions[PAIOV_POWER_STATE__MAX]
                                       [PAIOV_POWER_STATE__MAX] = {
    [PAIOV_POWER_STATE_ACTIVE] = {
        [PAIOV_POWER_STATE_IDLE] = R(DEVICE_IDLE) | MIGRATION_RESET,
        [PAIOV_POWER_STATE_D3HOT] = R(PMCSR) | R(MIGRATION),
        [PAIOV_POWER_STATE_PASSIVE_IDLE] = R(INACTIVITY),
    },
    [PAIOV_POWER_STATE_IDLE] = {
        [PAIOV_POWER_STATE_ACTIVE] = R(DEVICE_ACTIVE) | R(MIGRATION),
        [PAIOV_POWER_STATE_D3HOT] = R(PMCSR) | R(MIGRATION),
    },
    [PAIOV_POWER_STATE_D3HOT] = {
        [PAIOV_POWER_STATE_ACTIVE] = R(PMCSR) | R(MIGRATION),
        [PAIOV_POWER_STATE_IDLE] = R(PMCSR) | MIGRATION_RESET,
    },
    [PAIOV_POWER_STATE_PASSIVE_IDLE] = {
        [PAIOV_POWER_STATE_ACTIVE] = R(ACCESS) | R(POLICY) | R(MIGRATION),
        [PAIOV_POWER_STATE_IDLE] = R(DEVICE_IDLE) | MIGRATION_RESET,
        [PAIOV_POWER_STATE_D3HOT] = R(PMCSR) | R(MIGRATION),
    },
};

/*
 * Passive idle is checked PAIOV_IDLE_CHECKS times per timeout: it starts
 * between one timeout and 1 + 1/PAIOV_IDLE_CHECKS timeouts after the
 * last access, and an active device costs PAIOV_IDLE_CHECKS timer
 * expiries per timeout rather than a timer update per access.
 */
#define PAIOV_IDLE_CHECKS 4

bool paiov_transition_allowed(PaiovPowerState from, PaiovPowerState to,
                              PaiovReason reason)
{
    return from < PAIOV_POWER_STATE__MAX && to < PAIOV_POWER_STATE__MAX &&
           reason < PAIOV_REASON__MAX &&
           (paiov_transitions[from][to] & (1u << reason));
}

static PaiovPowerState paiov_derive(uint8_t dstate, bool functions_enabled)
{
    if (dstate == 3) {
        return PAIOV_POWER_STATE_D3HOT;
    }
    return functions_enabled ? PAIOV_POWER_STATE_ACTIVE
                             : PAIOV_POWER_STATE_IDLE;
}

static PaiovPowerState paiov_vpsa_derive(PaiovVPSA *vpsa)
{
    return paiov_derive(vpsa->dstate, vpsa->functions_enabled);
}

static void paiov_vpsa_account(PaiovVPSA *vpsa)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    vpsa->residency_ns[vpsa->state] += now - vpsa->entered_ns;
    vpsa->entered_ns = now;
}

static void paiov_vpsa_arm_idle_check(PaiovVPSA *vpsa)
{
    uint32_t timeout = vpsa->idle_timeout_ms;

    if (!vpsa->idle_timer) {
        return;
    }
    if (!timeout) {
        timer_del(vpsa->idle_timer);
        return;
    }
    /* a check may come late (passive idle later), never early */
    timer_mod(vpsa->idle_timer,
              paiov_vpsa_align(vpsa, QEMU_CLOCK_VIRTUAL,
                               qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                               (int64_t)timeout * SCALE_MS /
                               PAIOV_IDLE_CHECKS));
}

static void paiov_vpsa_idle_check(void *opaque)
{
    PaiovVPSA *vpsa = opaque;

    if (vpsa->state != PAIOV_POWER_STATE_ACTIVE) {
        return;
    }
    if ((vpsa->accesses != vpsa->accesses_at_check &&
         !vpsa->ops->activity_only) ||
        (vpsa->ops->activity && vpsa->ops->activity(vpsa))) {
        vpsa->accesses_at_check = vpsa->accesses;
        vpsa->quiet_checks = 0;
        vpsa->quiet_needed = PAIOV_IDLE_CHECKS;
    } else if (++vpsa->quiet_checks >= vpsa->quiet_needed) {
        paiov_vpsa_set_state(vpsa, PAIOV_POWER_STATE_PASSIVE_IDLE,
                             PAIOV_REASON_INACTIVITY);
        return;
    }
    paiov_vpsa_arm_idle_check(vpsa);
}

/*
 * Passive idle detection starts over whenever the device turns active.
 * A check already due is kept (re-arming a timer from a vCPU wakes the
 * main loop, once per toggle of a guest that blanks in a loop): it then
 * takes one quiet check more, so that passive idle never comes before a
 * whole timeout without activity.  A device that left active lets its
 * check lapse.
 */
static void paiov_vpsa_restart_idle_check(PaiovVPSA *vpsa)
{
    vpsa->accesses_at_check = vpsa->accesses;
    vpsa->quiet_checks = 0;
    if (vpsa->ops->activity) {
        vpsa->ops->activity(vpsa);      /* new baseline */
    }
    if (vpsa->state != PAIOV_POWER_STATE_ACTIVE) {
        return;
    }
    if (vpsa->idle_timer && timer_pending(vpsa->idle_timer) &&
        vpsa->idle_timeout_ms) {
        vpsa->quiet_needed = PAIOV_IDLE_CHECKS + 1;
        return;
    }
    vpsa->quiet_needed = PAIOV_IDLE_CHECKS;
    paiov_vpsa_arm_idle_check(vpsa);
}

void paiov_vpsa_wake(PaiovVPSA *vpsa)
{
    paiov_vpsa_set_state(vpsa, PAIOV_POWER_STATE_ACTIVE,
                         PAIOV_REASON_ACCESS);
}

void paiov_vpsa_set_align(PaiovVPSA *vpsa, PaiovVPSAAlignFn *align,
                          void *opaque)
{
    vpsa->align = align;
    vpsa->align_opaque = opaque;
}

void paiov_vpsa_set_idle_timeout(PaiovVPSA *vpsa, uint32_t timeout_ms)
{
    vpsa->idle_timeout_ms = timeout_ms;
    if (!paiov_vpsa_realized(vpsa)) {
        return;                         /* realize starts detection */
    }
    if (vpsa->state == PAIOV_POWER_STATE_PASSIVE_IDLE && !timeout_ms) {
        paiov_vpsa_set_state(vpsa, PAIOV_POWER_STATE_ACTIVE,
                             PAIOV_REASON_POLICY);
        return;
    }
    /* a new timeout: the check period changes */
    if (vpsa->idle_timer) {
        timer_del(vpsa->idle_timer);
    }
    paiov_vpsa_restart_idle_check(vpsa);
}

/*
 * PAIOV_POWER_STATE_CHANGE, at most one per second per device, built
 * only when sent: a guest that blanks in a loop must cost no more than a
 * counter per change.  The monitor throttles it too (per qom-path); this
 * saves building and parsing an event per change.  The last state of a
 * burst always arrives.
 */
#define PAIOV_EVENT_PERIOD_MS 1000

static QEMUClockType paiov_event_clock(void)
{
    /* the monitor's throttle clock: deterministic under qtest */
    return qtest_enabled() ? QEMU_CLOCK_VIRTUAL : QEMU_CLOCK_REALTIME;
}

static void paiov_vpsa_emit(PaiovVPSA *vpsa, PaiovPowerState old,
                            PaiovPowerState new, PaiovReason reason)
{
    g_autofree char *path = NULL;

    if (!vpsa->path) {
        /* before realize: the device may not be in the tree yet */
        path = object_get_canonical_path(OBJECT(vpsa->dev));
    }
    vpsa->event_sent_ms = qemu_clock_get_ms(paiov_event_clock());
    qapi_event_send_paiov_power_state_change(vpsa->path ?: path ?: "", old,
                                             new, reason);
}

static void paiov_vpsa_event_timer(void *opaque)
{
    PaiovVPSA *vpsa = opaque;

    vpsa->event_pending = false;
    if (vpsa->state != vpsa->event_old) {
        paiov_vpsa_emit(vpsa, vpsa->event_old, vpsa->state,
                        vpsa->event_reason);
    }
}

static void paiov_vpsa_event(PaiovVPSA *vpsa, PaiovPowerState old,
                             PaiovPowerState new, PaiovReason reason)
{
    if (vpsa->event_pending) {
        vpsa->event_reason = reason;    /* sent with the final state */
        return;
    }
    if (!vpsa->event_timer ||
        qemu_clock_get_ms(paiov_event_clock()) - vpsa->event_sent_ms >=
        PAIOV_EVENT_PERIOD_MS) {
        paiov_vpsa_emit(vpsa, old, new, reason);
        return;
    }
    vpsa->event_pending = true;
    vpsa->event_old = old;              /* what the client saw last */
    vpsa->event_reason = reason;
    /* the rate limit holds: the held event may go later, never earlier */
    timer_mod_ns(vpsa->event_timer,
                 paiov_vpsa_align(vpsa, paiov_event_clock(),
                                  (vpsa->event_sent_ms +
                                   PAIOV_EVENT_PERIOD_MS) * SCALE_MS));
}

/* Make the device, then the listeners follow a state the core has set */
static void paiov_vpsa_apply(PaiovVPSA *vpsa, PaiovPowerState old)
{
    PaiovVPSAListener *l, *next;

    if (vpsa->ops->power_changed) {
        vpsa->ops->power_changed(vpsa, old, vpsa->state);
    }
    QTAILQ_FOREACH_SAFE(l, &vpsa->listeners, next, next) {
        l->power_changed(l, vpsa, old, vpsa->state);
    }
}

void paiov_vpsa_add_listener(PaiovVPSA *vpsa, PaiovVPSAListener *listener)
{
    QTAILQ_INSERT_TAIL(&vpsa->listeners, listener, next);
}

void paiov_vpsa_remove_listener(PaiovVPSA *vpsa,
                                PaiovVPSAListener *listener)
{
    QTAILQ_REMOVE(&vpsa->listeners, listener, next);
}

int paiov_vpsa_set_state(PaiovVPSA *vpsa, PaiovPowerState state,
                         PaiovReason reason)
{
    PaiovPowerState old = vpsa->state;

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

    paiov_vpsa_restart_idle_check(vpsa);
    paiov_vpsa_apply(vpsa, old);

    paiov_vpsa_event(vpsa, old, state, reason);
    return 0;
}

static void paiov_vpsa_update(PaiovVPSA *vpsa, PaiovReason reason)
{
    PaiovPowerState state = paiov_vpsa_derive(vpsa);

    /* only an access ends passive idle */
    if (state == PAIOV_POWER_STATE_ACTIVE &&
        vpsa->state == PAIOV_POWER_STATE_PASSIVE_IDLE) {
        return;
    }
    paiov_vpsa_set_state(vpsa, state, reason);
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

/*
 * Guest accesses and device timers, reported by the device models from
 * their own handlers (class hooks of the models they extend)
 */
int64_t paiov_vpsa_access_begin(PaiovVPSA *vpsa)
{
    paiov_vpsa_access(vpsa);
    return get_clock();
}

void paiov_vpsa_access_end(PaiovVPSA *vpsa, int64_t begin)
{
    vpsa->handler_ns += get_clock() - begin;
}

void paiov_vpsa_timer_fired(PaiovVPSA *vpsa)
{
    vpsa->wakeups++;
}

void paiov_vpsa_init(PaiovVPSA *vpsa, DeviceState *dev,
                     const PaiovVPSAOps *ops)
{
    vpsa->dev = dev;
    vpsa->ops = ops;
    QTAILQ_INIT(&vpsa->listeners);
    vpsa->state = PAIOV_POWER_STATE_IDLE;
    vpsa->last_reason = PAIOV_REASON_REALIZE;
}

void paiov_vpsa_realize(PaiovVPSA *vpsa)
{
    /* looked up once: a blank storm must not walk the QOM tree each time */
    vpsa->path = object_get_canonical_path(OBJECT(vpsa->dev));
    if (vpsa->ops->passive_idle) {
        vpsa->idle_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                        paiov_vpsa_idle_check, vpsa);
    }
    vpsa->event_timer = timer_new_ms(paiov_event_clock(),
                                     paiov_vpsa_event_timer, vpsa);
    vpsa->event_sent_ms = INT64_MIN / 2;
    vpsa->entered_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    QTAILQ_INSERT_TAIL(&paiov_vpsas, vpsa, next);
    trace_paiov_vpsa_realize(object_get_typename(OBJECT(vpsa->dev)),
                             PaiovPowerState_str(vpsa->state));
    /* the host follows the initial state too */
    paiov_vpsa_restart_idle_check(vpsa);
    paiov_vpsa_apply(vpsa, vpsa->state);
}

void paiov_vpsa_unrealize(PaiovVPSA *vpsa)
{
    if (vpsa->idle_timer) {
        timer_free(vpsa->idle_timer);
        vpsa->idle_timer = NULL;
    }
    if (vpsa->event_timer) {
        timer_free(vpsa->event_timer);
        vpsa->event_timer = NULL;
    }
    g_free(vpsa->path);
    vpsa->path = NULL;
    if (QTAILQ_IN_USE(vpsa, next)) {
        QTAILQ_REMOVE(&paiov_vpsas, vpsa, next);
    }
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

/*
 * Migration: the guest-visible inputs (D-state, device functions); the
 * destination derives the state from them.  The stream also carries a
 * state word, for compatibility with the first version of the
 * subsection, whose destinations check it against the inputs: the source
 * writes the state the inputs imply (never passive idle, which is this
 * host's view of an active device); a destination only range-checks it
 * and takes nothing from it.
 */

/* The destination starts with the reset inputs (D0, idle): nothing to send */
bool paiov_vpsa_migration_needed(const PaiovVPSA *vpsa)
{
    return vpsa->dstate != 0 || vpsa->functions_enabled;
}

static int paiov_vpsa_pre_save(void *opaque)
{
    PaiovVPSA *vpsa = opaque;

    vpsa->mig.dstate = vpsa->dstate;
    vpsa->mig.functions_enabled = vpsa->functions_enabled;
    vpsa->mig.state = paiov_vpsa_derive(vpsa);
    return 0;
}

/* Taken or refused by the device's post_load, once its registers are in */
static int paiov_vpsa_subsection_loaded(void *opaque, int version_id)
{
    PaiovVPSA *vpsa = opaque;

    vpsa->mig.received = true;
    return 0;
}

void paiov_vpsa_pre_load(PaiovVPSA *vpsa)
{
    vpsa->mig.received = false;
}

/* "TYPE QOM-PATH", for messages; the caller frees it */
static char *paiov_vpsa_name(PaiovVPSA *vpsa)
{
    const char *type = object_get_typename(OBJECT(vpsa->dev));

    if (!vpsa->path || !*vpsa->path) {
        return g_strdup(type);
    }
    return g_strdup_printf("%s %s", type, vpsa->path);
}

/*
 * A virtual PSA subsection must be valid in itself and agree with the
 * device's registers (@dstate, @functions_enabled)
 */
static bool paiov_vpsa_check_stream(PaiovVPSA *vpsa, uint8_t dstate,
                                    bool functions_enabled)
{
    g_autofree char *name = paiov_vpsa_name(vpsa);
    const char *what = vpsa->ops->functions_registers ?: "the device";
    uint8_t mig_dstate = vpsa->mig.dstate;
    bool mig_functions = vpsa->mig.functions_enabled;

    if (mig_dstate != 0 && mig_dstate != 3) {
        error_report("%s: migration stream refused: virtual PSA in D%u, "
                     "not D0 or D3hot", name, mig_dstate);
        return false;
    }
    if (vpsa->mig.state >= PAIOV_POWER_STATE__MAX) {
        error_report("%s: migration stream refused: virtual PSA state %u "
                     "out of range", name, vpsa->mig.state);
        return false;
    }
    if (mig_dstate != dstate) {
        error_report("%s: migration stream refused: virtual PSA in D%u, "
                     "but PMCSR in D%u", name, mig_dstate, dstate);
        return false;
    }
    if (mig_functions != functions_enabled) {
        error_report("%s: migration stream refused: virtual PSA has the "
                     "device functions %s, but %s has them %s", name,
                     mig_functions ? "enabled" : "disabled", what,
                     functions_enabled ? "enabled" : "disabled");
        return false;
    }
    return true;
}

int paiov_vpsa_post_load(PaiovVPSA *vpsa)
{
    uint8_t dstate = vpsa->mig.received ? vpsa->mig.dstate : vpsa->dstate;
    bool functions_enabled = vpsa->mig.received ?
                             vpsa->mig.functions_enabled :
                             vpsa->functions_enabled;
    bool received = vpsa->mig.received;
    PaiovPowerState state;

    vpsa->mig.received = false;
    if (vpsa->ops->registers) {
        vpsa->ops->registers(vpsa, &dstate, &functions_enabled);
    }
    if (received && !paiov_vpsa_check_stream(vpsa, dstate,
                                             functions_enabled)) {
        return -EINVAL;
    }
    if (dstate != 0 && dstate != 3) {
        g_autofree char *name = paiov_vpsa_name(vpsa);

        error_report("%s: migration stream refused: PMCSR in D%u, "
                     "not D0 or D3hot", name, dstate);
        return -EINVAL;
    }

    /*
     * The state follows from the inputs, as it does for a guest write;
     * without a subsection the source was in its reset state and the
     * registers say so (or say what the device does here now).
     */
    vpsa->dstate = dstate;
    vpsa->functions_enabled = functions_enabled;
    state = paiov_vpsa_derive(vpsa);
    if (paiov_vpsa_set_state(vpsa, state, PAIOV_REASON_MIGRATION) ==
        -EALREADY) {
        /* same state: host effects are not migrated, apply them here */
        paiov_vpsa_apply(vpsa, state);
    }
    return 0;
}

const VMStateDescription vmstate_paiov_vpsa = {
    .name = "paiov-vpsa",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = paiov_vpsa_pre_save,
    .post_load = paiov_vpsa_subsection_loaded,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(mig.dstate, PaiovVPSA),
        VMSTATE_BOOL(mig.functions_enabled, PaiovVPSA),
        VMSTATE_UINT32(mig.state, PaiovVPSA),
        VMSTATE_END_OF_LIST()
    }
};
