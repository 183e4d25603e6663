/*
 * How timers notify the main loop: only for an earlier deadline, and
 * not while the notifying thread holds the BQL (util/qemu-timer.c,
 * system/cpus.c), counted with the trace event
 * qemu_notify_event_unlocked.  The timer is an HPET comparator that the
 * test reprograms from the qtest protocol, which QEMU's main thread
 * serves with the BQL held, as a vCPU thread holds it while the guest
 * reprograms its LAPIC timer.
 *
 * Copyright (c) 2026 qemu-paiov
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qemu/timer.h"

#define HPET_BASE       0xfed00000ULL
#define HPET_CFG        0x010
#define HPET_COUNTER    0x0f0
#define TN_CFG(n)       (0x100 + 0x20 * (n))
#define TN_CMP(n)       (0x108 + 0x20 * (n))
#define CFG_ENABLE      0x1
#define TN_INT_ENB      0x004

/*
 * Arm HPET comparator 0 (one-shot, its interrupt enabled) 1000 ticks
 * ahead, then write it with each of @moves ticks ahead, at the same
 * virtual time.
 * Count the main loop notifications for the virtual clock (the only one
 * that does not run under qtest: no timer of it fires meanwhile) from
 * the first HPET write to the HPET read that follows the last one,
 * issued with the BQL held in @held and without it in @free.
 */
static void run(const uint32_t *moves, int n, unsigned *held, unsigned *free)
{
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    QTestState *qts;
    bool started = false;
    int fd, i;

    fd = g_file_open_tmp("timer-notify-XXXXXX.log", &log, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    qts = qtest_initf("-M q35 -trace enable=qemu_notify_event_unlocked "
                      "-trace enable=hpet_ram_write -trace enable=hpet_ram_read "
                      "-D %s", log);
    qtest_clock_step(qts, 1);
    qtest_writeq(qts, HPET_BASE + HPET_COUNTER, 0x1000);
    qtest_writeq(qts, HPET_BASE + TN_CFG(0), TN_INT_ENB);
    qtest_writeq(qts, HPET_BASE + TN_CMP(0), 0x1000 + 1000);
    qtest_writeq(qts, HPET_BASE + HPET_CFG, CFG_ENABLE);
    for (i = 0; i < n; i++) {
        qtest_writeq(qts, HPET_BASE + TN_CMP(0), 0x1000 + moves[i]);
    }
    /* the end of the count (QEMU's exit notifies for its own reasons) */
    qtest_readq(qts, HPET_BASE + HPET_CFG);
    qtest_quit(qts);

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    lines = g_strsplit(text, "\n", -1);
    *held = *free = 0;
    for (i = 0; lines[i]; i++) {
        const char *ev = strstr(lines[i], "qemu_notify_event_unlocked ");
        unsigned clocks, bql_held;

        if (strstr(lines[i], "hpet_ram_write")) {
            started = true;
        }
        if (started && strstr(lines[i], "hpet_ram_read")) {
            break;
        }
        if (!started || !ev) {
            continue;
        }
        g_assert_cmpint(sscanf(ev, "qemu_notify_event_unlocked clocks 0x%x "
                               "bql_held %u", &clocks, &bql_held), ==, 2);
        if (clocks & (1u << QEMU_CLOCK_VIRTUAL)) {
            (*(bql_held ? held : free))++;
        }
    }
    g_assert_true(started);
}

static void test_notify(void)
{
    /* later, later, later, earlier than the one before, the same */
    static const uint32_t moves[] = { 2000, 3000, 4000, 1500, 1500 };
    unsigned held, free;

    run(NULL, 0, &held, &free);
    /* enabling the HPET arms the comparator: one notification */
    g_assert_cmpuint(held, ==, 0);
    g_assert_cmpuint(free, ==, 1);

    run(moves, ARRAY_SIZE(moves), &held, &free);
    /* none with the BQL held; of the moves only the earlier one */
    g_assert_cmpuint(held, ==, 0);
    g_assert_cmpuint(free, ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/timer-notify/hpet-comparator", test_notify);
    return g_test_run();
}
