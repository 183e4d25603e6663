/*
 * When a timer list notifies whoever waits on it (util/qemu-timer.c)
 *
 * Copyright (c) 2026 qemu-paiov
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"

static unsigned notified;

static void count_notify(void *opaque, QEMUClockType type)
{
    g_assert_cmpint(type, ==, QEMU_CLOCK_VIRTUAL);
    notified++;
}

static void timer_cb(void *opaque)
{
    g_assert_not_reached();
}

static QEMUTimerListGroup tlg;

static void new_list(void)
{
    notified = 0;
    timerlistgroup_init(&tlg, count_notify, NULL);
}

static void init_timer(QEMUTimer *t)
{
    timer_init_full(t, &tlg, QEMU_CLOCK_VIRTUAL, SCALE_NS, 0, timer_cb, NULL);
}

/*
 * A one-shot timer the guest reprograms: only a deadline earlier than
 * the one the list had wakes the waiter.
 */
static void test_one_timer(void)
{
    QEMUTimer t;

    new_list();
    init_timer(&t);

    timer_mod_ns(&t, 4000000);          /* first deadline */
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&t, 120000000);        /* later: the waiter wakes early */
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&t, 120000000);        /* the same */
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&t, 3000000);          /* earlier than the first */
    g_assert_cmpuint(notified, ==, 2);
    timer_mod_ns(&t, 3500000);          /* later again */
    g_assert_cmpuint(notified, ==, 2);

    timer_del(&t);                      /* no deadline: nothing to tell */
    g_assert_cmpuint(notified, ==, 2);
    timer_mod_ns(&t, 900000000);        /* the list was empty */
    g_assert_cmpuint(notified, ==, 3);
    timer_mod_anticipate_ns(&t, 800000000);
    g_assert_cmpuint(notified, ==, 4);
    timer_mod_anticipate_ns(&t, 850000000);
    g_assert_cmpuint(notified, ==, 4);

    timer_del(&t);
    timerlistgroup_deinit(&tlg);
}

/*
 * With two timers, the deadline of the list is the earlier one: moving
 * the first timer behind the second one moves the deadline later, moving
 * a timer before the first one moves it earlier.
 */
static void test_two_timers(void)
{
    QEMUTimer a, b;

    new_list();
    init_timer(&a);
    init_timer(&b);

    timer_mod_ns(&a, 1000);
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&b, 5000);             /* not first */
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&a, 9000);             /* b becomes first, at 5000 > 1000 */
    g_assert_cmpuint(notified, ==, 1);
    timer_mod_ns(&a, 4000);             /* first, earlier than 5000 */
    g_assert_cmpuint(notified, ==, 2);
    timer_mod_ns(&b, 4000);             /* same deadline, a stays first */
    g_assert_cmpuint(notified, ==, 2);
    timer_mod_ns(&b, 3999);             /* earlier */
    g_assert_cmpuint(notified, ==, 3);
    timer_mod_ns(&b, -5);               /* in the past, clamped to 0 */
    g_assert_cmpuint(notified, ==, 4);
    g_assert_cmpint(timer_expire_time_ns(&b), ==, 0);
    timer_mod_ns(&b, 0);                /* the same */
    g_assert_cmpuint(notified, ==, 4);

    timer_del(&a);
    timer_del(&b);
    timerlistgroup_deinit(&tlg);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    init_clocks(NULL);
    g_test_add_func("/timer/notify/one-timer", test_one_timer);
    g_test_add_func("/timer/notify/two-timers", test_two_timers);
    return g_test_run();
}
