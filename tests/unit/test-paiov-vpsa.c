/*
 * Unit tests of the PAIOV virtual PSA state machine (hw/paiov/paiov-vpsa.c)
 *
 * The state machine links alone: no proxy PMA, no device model.  A
 * listener stands where the proxy PMA listens and records what it was
 * told, so that every transition can be checked without a machine.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "paiov/paiov-vpsa.h"
#include "paiov/paiov-align.h"

#define TYPE_TEST_PAIOV_DEV "test-paiov-dev"

/* What the device and the listener were told */
static struct {
    int listener_calls;
    PaiovPowerState listener_old, listener_new;
    int dev_calls;
    PaiovPowerState dev_old, dev_new;
} seen;

static void test_listener_power_changed(PaiovVPSAListener *listener,
                                        PaiovVPSA *vpsa, PaiovPowerState old,
                                        PaiovPowerState new)
{
    seen.listener_calls++;
    seen.listener_old = old;
    seen.listener_new = new;
}

static PaiovVPSAListener test_listener = {
    .power_changed = test_listener_power_changed,
};

static void test_dev_power_changed(PaiovVPSA *vpsa, PaiovPowerState old,
                                   PaiovPowerState new)
{
    seen.dev_calls++;
    seen.dev_old = old;
    seen.dev_new = new;
    /* the device is told before the listener (proxy PMA) acts */
    g_assert_cmpint(seen.dev_calls, ==, seen.listener_calls + 1);
}

static const PaiovVPSAOps test_ops = {
    .power_changed = test_dev_power_changed,
};

/*
 * The transitions the design allows (docs/design.md, qapi/paiov.json),
 * written out independently of the table in the core.
 */
static const struct {
    PaiovPowerState from, to;
    PaiovReason reason;
} allowed[] = {
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_DEVICE_IDLE },
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_IDLE, PAIOV_REASON_RESET },
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_D3HOT, PAIOV_REASON_PMCSR },
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_D3HOT,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_IDLE, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_DEVICE_ACTIVE },
    { PAIOV_POWER_STATE_IDLE, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_IDLE, PAIOV_POWER_STATE_D3HOT, PAIOV_REASON_PMCSR },
    { PAIOV_POWER_STATE_IDLE, PAIOV_POWER_STATE_D3HOT,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_ACTIVE, PAIOV_REASON_PMCSR },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_IDLE, PAIOV_REASON_PMCSR },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_IDLE, PAIOV_REASON_RESET },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_MIGRATION },
    /*
     * passive idle: entered on inactivity only (a migration derives the
     * state from the inputs, which never give passive idle), left on
     * access
     */
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_PASSIVE_IDLE,
      PAIOV_REASON_INACTIVITY },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_ACCESS },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_POLICY },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_ACTIVE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_DEVICE_IDLE },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_RESET },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_IDLE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_D3HOT,
      PAIOV_REASON_PMCSR },
    { PAIOV_POWER_STATE_PASSIVE_IDLE, PAIOV_POWER_STATE_D3HOT,
      PAIOV_REASON_MIGRATION },
};

static bool expected_allowed(PaiovPowerState from, PaiovPowerState to,
                             PaiovReason reason)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(allowed); i++) {
        if (allowed[i].from == from && allowed[i].to == to &&
            allowed[i].reason == reason) {
            return true;
        }
    }
    return false;
}

static Object *new_dev_ops(PaiovVPSA *vpsa, const PaiovVPSAOps *ops)
{
    Object *obj = object_new(TYPE_TEST_PAIOV_DEV);

    paiov_vpsa_init(vpsa, (DeviceState *)obj, ops);
    paiov_vpsa_add_listener(vpsa, &test_listener);
    paiov_vpsa_realize(vpsa);
    return obj;
}

static Object *new_dev(PaiovVPSA *vpsa)
{
    return new_dev_ops(vpsa, &test_ops);
}

static void free_dev(PaiovVPSA *vpsa, Object *obj)
{
    paiov_vpsa_unrealize(vpsa);
    paiov_vpsa_remove_listener(vpsa, &test_listener);
    object_unref(obj);
}

/* Guards the table itself: a wrong entry would let a guest skip a state */
static void test_table(void)
{
    int from, to, reason;

    for (from = 0; from < PAIOV_POWER_STATE__MAX; from++) {
        for (to = 0; to < PAIOV_POWER_STATE__MAX; to++) {
            for (reason = 0; reason < PAIOV_REASON__MAX; reason++) {
                g_assert_cmpint(paiov_transition_allowed(from, to, reason),
                                ==, expected_allowed(from, to, reason));
            }
        }
    }
    g_assert_false(paiov_transition_allowed(PAIOV_POWER_STATE__MAX, 0, 0));
    g_assert_false(paiov_transition_allowed(0, 1, PAIOV_REASON__MAX));
}

/*
 * Guards the setter on every (from, to, reason) triple: an allowed change
 * is applied, counted, passed to the device and the listener; a refused one
 * changes nothing at all.
 */
static void test_every_triple(void)
{
    int from, to, reason;

    for (from = 0; from < PAIOV_POWER_STATE__MAX; from++) {
        for (to = 0; to < PAIOV_POWER_STATE__MAX; to++) {
            for (reason = 0; reason < PAIOV_REASON__MAX; reason++) {
                PaiovVPSA vpsa = { 0 };
                Object *obj = new_dev(&vpsa);
                uint64_t transitions;
                int ret;

                vpsa.state = from;
                transitions = vpsa.transitions;
                memset(&seen, 0, sizeof(seen));
                ret = paiov_vpsa_set_state(&vpsa, to, reason);
                if (from == to) {
                    g_assert_cmpint(ret, ==, -EALREADY);
                } else if (expected_allowed(from, to, reason)) {
                    g_assert_cmpint(ret, ==, 0);
                    g_assert_cmpint(vpsa.state, ==, to);
                    g_assert_cmpuint(vpsa.transitions, ==, transitions + 1);
                    g_assert_cmpint(vpsa.last_reason, ==, reason);
                    g_assert_cmpint(seen.dev_calls, ==, 1);
                    g_assert_cmpint(seen.dev_old, ==, from);
                    g_assert_cmpint(seen.dev_new, ==, to);
                    g_assert_cmpint(seen.listener_calls, ==, 1);
                    g_assert_cmpint(seen.listener_old, ==, from);
                    g_assert_cmpint(seen.listener_new, ==, to);
                    free_dev(&vpsa, obj);
                    continue;
                } else {
                    g_assert_cmpint(ret, ==, -EINVAL);
                }
                g_assert_cmpint(vpsa.state, ==, from);
                g_assert_cmpuint(vpsa.transitions, ==, transitions);
                g_assert_cmpint(seen.dev_calls, ==, 0);
                g_assert_cmpint(seen.listener_calls, ==, 0);
                free_dev(&vpsa, obj);
            }
        }
    }
}

/* Guards the derivation of the state from what the guest wrote */
static void test_inputs(void)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev(&vpsa);

    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_IDLE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_REALIZE);

    paiov_vpsa_set_functions_enabled(&vpsa, true);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_ACTIVE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_DEVICE_ACTIVE);

    paiov_vpsa_set_dstate(&vpsa, 3);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_D3HOT);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_PMCSR);

    /* channels switched off while in D3hot: still D3hot, then idle on D0 */
    paiov_vpsa_set_functions_enabled(&vpsa, false);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_D3HOT);
    paiov_vpsa_set_dstate(&vpsa, 0);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_IDLE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_PMCSR);

    paiov_vpsa_set_functions_enabled(&vpsa, true);
    paiov_vpsa_set_dstate(&vpsa, 3);
    paiov_vpsa_reset(&vpsa);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_IDLE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_RESET);
    g_assert_cmpint(vpsa.dstate, ==, 0);
    g_assert_false(vpsa.functions_enabled);
    g_assert_cmpuint(vpsa.transitions, ==, 6);
    free_dev(&vpsa, obj);
}

/*
 * Guards passive idle: only an access ends it (not a re-derivation of
 * the inputs), the access is counted, and the guest-visible inputs can
 * still take it to idle or D3hot.
 */
static void test_passive_idle(void)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev(&vpsa);

    paiov_vpsa_set_functions_enabled(&vpsa, true);
    g_assert_cmpint(paiov_vpsa_set_state(&vpsa,
                                         PAIOV_POWER_STATE_PASSIVE_IDLE,
                                         PAIOV_REASON_INACTIVITY), ==, 0);
    g_assert_cmpint(seen.dev_new, ==, PAIOV_POWER_STATE_PASSIVE_IDLE);
    g_assert_cmpint(seen.listener_new, ==, PAIOV_POWER_STATE_PASSIVE_IDLE);
    paiov_vpsa_set_dstate(&vpsa, 0);            /* no change: stays */
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_PASSIVE_IDLE);

    paiov_vpsa_access(&vpsa);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_ACTIVE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_ACCESS);
    g_assert_cmpuint(vpsa.accesses, ==, 1);
    paiov_vpsa_access(&vpsa);
    g_assert_cmpuint(vpsa.accesses, ==, 2);

    paiov_vpsa_set_state(&vpsa, PAIOV_POWER_STATE_PASSIVE_IDLE,
                         PAIOV_REASON_INACTIVITY);
    paiov_vpsa_set_functions_enabled(&vpsa, false);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_IDLE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_DEVICE_IDLE);
    free_dev(&vpsa, obj);
}

/*
 * Guards what the devices' hooks report: an access is counted and ends
 * passive idle before it is served, its host time goes to handler_ns;
 * a device timer's expiry is a host wakeup
 */
static void test_observation(void)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev(&vpsa);
    int64_t t0;

    paiov_vpsa_set_functions_enabled(&vpsa, true);
    paiov_vpsa_set_state(&vpsa, PAIOV_POWER_STATE_PASSIVE_IDLE,
                         PAIOV_REASON_INACTIVITY);
    t0 = paiov_vpsa_access_begin(&vpsa);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_ACTIVE);
    g_assert_cmpint(vpsa.last_reason, ==, PAIOV_REASON_ACCESS);
    g_assert_cmpuint(vpsa.accesses, ==, 1);
    g_assert_cmpuint(vpsa.handler_ns, ==, 0);
    g_usleep(2 * 1000);
    paiov_vpsa_access_end(&vpsa, t0);
    g_assert_cmpuint(vpsa.handler_ns, >=, 2 * SCALE_MS);

    g_assert_cmpuint(vpsa.wakeups, ==, 0);
    paiov_vpsa_timer_fired(&vpsa);
    paiov_vpsa_timer_fired(&vpsa);
    g_assert_cmpuint(vpsa.wakeups, ==, 2);
    g_assert_cmpuint(vpsa.accesses, ==, 1);
    free_dev(&vpsa, obj);
}

/* Guards residency accounting: time goes to the state it was spent in */
static void test_residency(void)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev(&vpsa);
    int64_t active, idle;

    /* the virtual clock of a test runs on the host clock: only order */
    g_usleep(20 * 1000);
    paiov_vpsa_set_functions_enabled(&vpsa, true);
    idle = paiov_vpsa_residency_ms(&vpsa, PAIOV_POWER_STATE_IDLE);
    g_assert_cmpint(idle, >=, 20);
    g_usleep(30 * 1000);
    active = paiov_vpsa_residency_ms(&vpsa, PAIOV_POWER_STATE_ACTIVE);
    g_assert_cmpint(active, >=, 30);
    g_assert_cmpint(paiov_vpsa_residency_ms(&vpsa, PAIOV_POWER_STATE_IDLE),
                    ==, idle);
    g_assert_cmpint(paiov_vpsa_residency_ms(&vpsa, PAIOV_POWER_STATE_D3HOT),
                    ==, 0);
    free_dev(&vpsa, obj);
}

/* What the device's registers say after a migration stream loaded them */
static struct {
    uint8_t dstate;
    bool functions_enabled;
} regs;

static void test_dev_registers(PaiovVPSA *vpsa, uint8_t *dstate,
                               bool *functions_enabled)
{
    *dstate = regs.dstate;
    *functions_enabled = regs.functions_enabled;
}

static const PaiovVPSAOps test_mig_ops = {
    .power_changed = test_dev_power_changed,
    .registers = test_dev_registers,
    .functions_registers = "TEST_CTRL",
};

/*
 * The design's rule for a stream, written out independently: its inputs
 * must be valid and agree with the registers; its state word (kept for
 * old streams) must be in range and is otherwise not used
 */
static bool expected_taken(uint8_t dstate, bool functions, uint32_t state)
{
    if ((dstate != 0 && dstate != 3) || state >= PAIOV_POWER_STATE__MAX) {
        return false;
    }
    return dstate == regs.dstate && functions == regs.functions_enabled;
}

/*
 * One load: the device starts in D3hot with functions enabled; the
 * subsection (if @received) carries @dstate, @functions, @state.  Taken,
 * the state follows from the registers' inputs, the device and the
 * listener are told; refused, nothing changes at all.
 */
static void check_load(bool received, uint8_t dstate, bool functions,
                       uint32_t state)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev_ops(&vpsa, &test_mig_ops);
    bool taken = received ? expected_taken(dstate, functions, state) :
                 regs.dstate == 0 || regs.dstate == 3;
    uint64_t transitions;
    int ret;

    paiov_vpsa_set_functions_enabled(&vpsa, true);
    paiov_vpsa_set_dstate(&vpsa, 3);
    transitions = vpsa.transitions;
    paiov_vpsa_pre_load(&vpsa);
    if (received) {
        /* what the subsection's fields and its post_load leave */
        vpsa.mig.dstate = dstate;
        vpsa.mig.functions_enabled = functions;
        vpsa.mig.state = state;
        vpsa.mig.received = true;
    }
    memset(&seen, 0, sizeof(seen));
    ret = paiov_vpsa_post_load(&vpsa);
    g_assert_false(vpsa.mig.received);
    if (taken) {
        PaiovPowerState want = regs.dstate == 3 ? PAIOV_POWER_STATE_D3HOT :
                               regs.functions_enabled ?
                               PAIOV_POWER_STATE_ACTIVE :
                               PAIOV_POWER_STATE_IDLE;

        g_assert_cmpint(ret, ==, 0);
        g_assert_cmpint(vpsa.state, ==, want);
        g_assert_cmpint(vpsa.dstate, ==, regs.dstate);
        g_assert_cmpint(vpsa.functions_enabled, ==, regs.functions_enabled);
        g_assert_cmpuint(vpsa.transitions, ==,
                         transitions + (want != PAIOV_POWER_STATE_D3HOT));
        g_assert_cmpint(seen.dev_calls, ==, 1);
        g_assert_cmpint(seen.dev_new, ==, want);
        g_assert_cmpint(seen.listener_calls, ==, 1);
    } else {
        g_assert_cmpint(ret, ==, -EINVAL);
        g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_D3HOT);
        g_assert_cmpint(vpsa.dstate, ==, 3);
        g_assert_true(vpsa.functions_enabled);
        g_assert_cmpuint(vpsa.transitions, ==, transitions);
        g_assert_cmpint(seen.dev_calls, ==, 0);
        g_assert_cmpint(seen.listener_calls, ==, 0);
    }
    free_dev(&vpsa, obj);
}

/*
 * Guards the check of a migration stream on every combination of a
 * subsection's fields (valid or not) and the device's registers: a stream
 * is taken only when it is valid and agrees with the registers, and a
 * refused one leaves the virtual PSA as it was (it kept an out-of-range
 * state, and query-paiov then aborted).  Without a subsection the
 * registers decide.
 */
static void test_migration_load(void)
{
    static const uint8_t dstates[] = { 0, 1, 2, 3, 7, 255 };
    static const uint32_t states[] = { 0, 1, 2, 3, 4, 99, UINT32_MAX };
    static const uint8_t reg_dstates[] = { 0, 1, 3 };
    size_t r, d, s;
    int rf, f;

    for (r = 0; r < ARRAY_SIZE(reg_dstates); r++) {
        for (rf = 0; rf < 2; rf++) {
            regs.dstate = reg_dstates[r];
            regs.functions_enabled = rf;
            check_load(false, 0, false, 0);
            for (d = 0; d < ARRAY_SIZE(dstates); d++) {
                for (f = 0; f < 2; f++) {
                    for (s = 0; s < ARRAY_SIZE(states); s++) {
                        check_load(true, dstates[d], f, states[s]);
                    }
                }
            }
        }
    }
}

/*
 * Guards what a source sends: the inputs, and as the state word (kept
 * for destinations of the first version of the subsection, which check
 * it against the inputs) the state the inputs imply, never passive idle
 * (it was sent, although no destination can use it).  The subsection is
 * needed exactly when the inputs are not the reset ones.
 */
static void test_migration_save(void)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev(&vpsa);

    g_assert_false(paiov_vpsa_migration_needed(&vpsa));
    paiov_vpsa_set_functions_enabled(&vpsa, true);
    g_assert_cmpint(paiov_vpsa_set_state(&vpsa,
                                         PAIOV_POWER_STATE_PASSIVE_IDLE,
                                         PAIOV_REASON_INACTIVITY), ==, 0);
    g_assert_true(paiov_vpsa_migration_needed(&vpsa));
    g_assert_cmpint(vmstate_paiov_vpsa.pre_save(&vpsa), ==, 0);
    g_assert_cmpint(vpsa.mig.dstate, ==, 0);
    g_assert_true(vpsa.mig.functions_enabled);
    g_assert_cmpuint(vpsa.mig.state, ==, PAIOV_POWER_STATE_ACTIVE);

    paiov_vpsa_set_dstate(&vpsa, 3);
    g_assert_cmpint(vmstate_paiov_vpsa.pre_save(&vpsa), ==, 0);
    g_assert_cmpint(vpsa.mig.dstate, ==, 3);
    g_assert_cmpuint(vpsa.mig.state, ==, PAIOV_POWER_STATE_D3HOT);

    paiov_vpsa_set_functions_enabled(&vpsa, false);
    paiov_vpsa_set_dstate(&vpsa, 0);
    g_assert_false(paiov_vpsa_migration_needed(&vpsa));
    free_dev(&vpsa, obj);
}

/*
 * Guards the grid arithmetic of pooling (issue 13 items 4, 5): the first
 * tick at or after the deadline, on the phase modulo the period; never
 * earlier; never for a strict VM; not when the tick is farther than the
 * maximum delay; nothing without a grid.
 */
static void test_align_grid(void)
{
    PaiovAlign a = { .period_ns = 100, .phase_ns = 30, .max_delay_ns = 100 };
    static const struct {
        int64_t deadline, want;
    } cases[] = {
        { 0, 30 }, { 30, 30 }, { 31, 130 }, { 129, 130 }, { 130, 130 },
        { 1000001, 1000030 }, { 29, 30 },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_assert_cmpint(paiov_align_deadline(&a, cases[i].deadline), ==,
                        cases[i].want);
    }
    /* a phase beyond the period is taken modulo it */
    a.phase_ns = 230;
    g_assert_cmpint(paiov_align_deadline(&a, 31), ==, 130);
    a.phase_ns = 30;
    /* bounded: a tick more than max_delay away is not waited for */
    a.max_delay_ns = 10;
    g_assert_cmpint(paiov_align_deadline(&a, 120), ==, 130);
    g_assert_cmpint(paiov_align_deadline(&a, 119), ==, 119);
    g_assert_cmpint(paiov_align_deadline(&a, 31), ==, 31);
    a.max_delay_ns = 0;
    g_assert_cmpint(paiov_align_deadline(&a, 130), ==, 130);
    g_assert_cmpint(paiov_align_deadline(&a, 131), ==, 131);
    /* strict: never delayed */
    a.max_delay_ns = 100;
    a.strict = true;
    g_assert_cmpint(paiov_align_deadline(&a, 31), ==, 31);
    /* no grid */
    a.strict = false;
    a.period_ns = 0;
    g_assert_cmpint(paiov_align_deadline(&a, 31), ==, 31);
    /* no overflow near the end of time */
    a.period_ns = 100;
    g_assert_cmpint(paiov_align_deadline(&a, INT64_MAX - 5), ==,
                    INT64_MAX - 5);
}

static struct {
    int calls;
    int64_t deadline;
    int64_t shift;
} align_seen;

static int64_t test_align_fn(void *opaque, QEMUClockType type,
                             int64_t deadline)
{
    g_assert_true(opaque == &align_seen);
    align_seen.calls++;
    align_seen.deadline = deadline;
    return deadline + align_seen.shift;
}

static const PaiovVPSAOps test_idle_ops = {
    .power_changed = test_dev_power_changed,
    .passive_idle = true,
};

/*
 * Guards the state machine's side of pooling: the passive idle check is
 * armed where the proxy PMA's callback says (an input, the virtual PSA
 * calls nothing of the PMA), never earlier than due, and exactly when
 * due without a callback.
 */
/*
 * A fresh device with a passive idle timeout of 400 ms and @align turns
 * active: the deadline its first check is armed at
 */
static int64_t align_first_check(PaiovVPSAAlignFn *align, int64_t *due)
{
    PaiovVPSA vpsa = { 0 };
    Object *obj = new_dev_ops(&vpsa, &test_idle_ops);
    int64_t at;

    paiov_vpsa_set_idle_timeout(&vpsa, 400);
    paiov_vpsa_set_align(&vpsa, align, &align_seen);
    *due = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + 100 * SCALE_MS;
    paiov_vpsa_set_functions_enabled(&vpsa, true);
    g_assert_cmpint(vpsa.state, ==, PAIOV_POWER_STATE_ACTIVE);
    at = timer_expire_time_ns(vpsa.idle_timer);
    free_dev(&vpsa, obj);
    return at;
}

/*
 * Guards the state machine's side of pooling: the passive idle check is
 * armed where the proxy PMA's callback says (an input, the virtual PSA
 * calls nothing of the PMA), never earlier than due, and when due
 * without a callback.
 */
static void test_align_input(void)
{
    int64_t due, at;

    at = align_first_check(NULL, &due);
    g_assert_cmpint(at, >=, due);
    g_assert_cmpint(align_seen.calls, ==, 0);

    align_seen.shift = 7 * SCALE_MS;
    at = align_first_check(test_align_fn, &due);
    g_assert_cmpint(align_seen.calls, ==, 1);
    g_assert_cmpint(align_seen.deadline, >=, due);
    g_assert_cmpint(at, ==, align_seen.deadline + 7 * SCALE_MS);

    /* a callback that would run it early is not followed */
    align_seen.shift = -5 * SCALE_MS;
    at = align_first_check(test_align_fn, &due);
    g_assert_cmpint(align_seen.calls, ==, 2);
    g_assert_cmpint(at, ==, align_seen.deadline);
}

static const TypeInfo test_dev_info = {
    .name = TYPE_TEST_PAIOV_DEV,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(Object),
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    init_clocks(NULL);                  /* the core's timers */
    module_call_init(MODULE_INIT_QOM);
    type_register_static(&test_dev_info);

    g_test_add_func("/paiov/vpsa/table", test_table);
    g_test_add_func("/paiov/vpsa/every-triple", test_every_triple);
    g_test_add_func("/paiov/vpsa/inputs", test_inputs);
    g_test_add_func("/paiov/vpsa/passive-idle", test_passive_idle);
    g_test_add_func("/paiov/vpsa/residency", test_residency);
    g_test_add_func("/paiov/vpsa/observation", test_observation);
    g_test_add_func("/paiov/vpsa/migration-load", test_migration_load);
    g_test_add_func("/paiov/vpsa/migration-save", test_migration_save);
    g_test_add_func("/paiov/vpsa/align-grid", test_align_grid);
    g_test_add_func("/paiov/vpsa/align-input", test_align_input);
    return g_test_run();
}
