/*
 * Unit tests of the PAIOV virtual PSA state machine (hw/paiov/paiov-vpsa.c)
 *
 * The proxy PMA is replaced by stubs that record what the core asked of
 * it, so that every transition can be checked without a machine.
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
#include "paiov/paiov.h"

#define TYPE_TEST_PAIOV_DEV "test-paiov-dev"

/* What the stubs saw */
static struct {
    int pma_calls;
    PaiovPowerState pma_old, pma_new;
    int dev_calls;
    PaiovPowerState dev_old, dev_new;
} seen;

struct PaiovPMA {
    Object parent_obj;
};

static PaiovPMA test_pma;

PaiovPMA *paiov_pma_get_default(Error **errp)
{
    return &test_pma;
}

void paiov_pma_power_changed(PaiovPMA *pma, PaiovVPSA *vpsa,
                             PaiovPowerState old, PaiovPowerState new)
{
    g_assert(pma == &test_pma);
    seen.pma_calls++;
    seen.pma_old = old;
    seen.pma_new = new;
}

void paiov_pma_refresh(PaiovPMA *pma, PaiovVPSA *vpsa)
{
}

bool paiov_pma_attach(PaiovPMA *pma, PaiovVPSA *vpsa, Error **errp)
{
    return true;
}

void paiov_pma_detach(PaiovPMA *pma, PaiovVPSA *vpsa)
{
}

uint32_t paiov_pma_idle_timeout_ms(PaiovPMA *pma)
{
    return 0;
}

bool paiov_vpsa_low_latency(PaiovVPSA *vpsa)
{
    return false;
}

bool paiov_pma_pm_qos_held(PaiovPMA *pma)
{
    return false;
}

bool paiov_pma_timer_slack_raised(PaiovPMA *pma)
{
    return false;
}

static void test_dev_power_changed(PaiovVPSA *vpsa, PaiovPowerState old,
                                   PaiovPowerState new)
{
    seen.dev_calls++;
    seen.dev_old = old;
    seen.dev_new = new;
    /* the device is told before the proxy PMA acts on the host */
    g_assert_cmpint(seen.dev_calls, ==, seen.pma_calls + 1);
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
    /* passive idle: entered on inactivity only, left on access */
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_PASSIVE_IDLE,
      PAIOV_REASON_INACTIVITY },
    { PAIOV_POWER_STATE_ACTIVE, PAIOV_POWER_STATE_PASSIVE_IDLE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_IDLE, PAIOV_POWER_STATE_PASSIVE_IDLE,
      PAIOV_REASON_MIGRATION },
    { PAIOV_POWER_STATE_D3HOT, PAIOV_POWER_STATE_PASSIVE_IDLE,
      PAIOV_REASON_MIGRATION },
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

static Object *new_dev(PaiovVPSA *vpsa)
{
    Object *obj = object_new(TYPE_TEST_PAIOV_DEV);

    paiov_vpsa_init(vpsa, (DeviceState *)obj, &test_ops);
    g_assert_true(paiov_vpsa_realize(vpsa, NULL, &error_abort));
    return obj;
}

static void free_dev(PaiovVPSA *vpsa, Object *obj)
{
    paiov_vpsa_unrealize(vpsa);
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
 * is applied, counted, passed to the device and the PMA; a refused one
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
                    g_assert_cmpint(seen.pma_calls, ==, 1);
                    g_assert_cmpint(seen.pma_old, ==, from);
                    g_assert_cmpint(seen.pma_new, ==, to);
                    free_dev(&vpsa, obj);
                    continue;
                } else {
                    g_assert_cmpint(ret, ==, -EINVAL);
                }
                g_assert_cmpint(vpsa.state, ==, from);
                g_assert_cmpuint(vpsa.transitions, ==, transitions);
                g_assert_cmpint(seen.dev_calls, ==, 0);
                g_assert_cmpint(seen.pma_calls, ==, 0);
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
    g_assert_cmpint(seen.pma_new, ==, PAIOV_POWER_STATE_PASSIVE_IDLE);
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

static const TypeInfo test_dev_info = {
    .name = TYPE_TEST_PAIOV_DEV,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(Object),
};

/* stands in for the proxy PMA type of hw/paiov/paiov-pma.c */
static const TypeInfo test_pma_info = {
    .name = TYPE_PAIOV_PMA,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PaiovPMA),
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    init_clocks(NULL);                  /* the core's timers */
    module_call_init(MODULE_INIT_QOM);
    type_register_static(&test_dev_info);
    type_register_static(&test_pma_info);
    object_initialize(&test_pma, sizeof(test_pma), TYPE_PAIOV_PMA);

    g_test_add_func("/paiov/vpsa/table", test_table);
    g_test_add_func("/paiov/vpsa/every-triple", test_every_triple);
    g_test_add_func("/paiov/vpsa/inputs", test_inputs);
    g_test_add_func("/paiov/vpsa/passive-idle", test_passive_idle);
    g_test_add_func("/paiov/vpsa/residency", test_residency);
    return g_test_run();
}
