/*
 * QTest for the HPET: what the guest reads, in every mode it can program
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The main counter, the comparators, the status register and the
 * interrupts (I/O APIC inputs intercepted, FSB messages written to RAM)
 * at points of the virtual clock, against values computed from the HPET
 * specification.  These tests pass on an hw/timer/hpet.c that arms a host
 * timer for every comparator as on one that arms none for a comparator
 * whose interrupt is disabled: that optimization must not change what the
 * guest sees.  Only /hpet-paiov/no-host-timer tells them apart.
 *
 * Reads stay out of the first microsecond after a match of a periodic
 * comparator: there, a host timer that fires exactly on time has not yet
 * advanced the comparator (hpet.c clamps re-arming to 1 us), which a late
 * host timer has; the value depends on host timer latency.  For the same
 * reason, a write that re-arms a timer at the time it was armed for
 * delays that match by up to 1 us (CLAMP).
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"

#define HPET_BASE       0xfed00000ULL
#define HPET_CFG        0x010
#define HPET_STATUS     0x020
#define HPET_COUNTER    0x0f0
#define TN_CFG(n)       (0x100 + 0x20 * (n))
#define TN_CMP(n)       (0x108 + 0x20 * (n))
#define TN_FSB(n)       (0x110 + 0x20 * (n))

#define CFG_ENABLE      0x1
#define CFG_LEGACY      0x2

#define TN_LEVEL        0x002
#define TN_INT_ENB      0x004
#define TN_PERIODIC     0x008
#define TN_SETVAL       0x040
#define TN_32BIT        0x100
#define TN_ROUTE(r)     ((r) << 9)
#define TN_FSB_ENB      0x4000

#define TICK_NS         10
#define CLAMP           100     /* 1 us in ticks */
#define FSB_ADDR        0x100000ULL     /* guest RAM the FSB messages hit */
#define FSB_DATA        0x4150ULL

/* q35's HPET may route to I/O APIC inputs 2, 8 and 16-23 */
#define ROUTE(n)        (20 + (n))

typedef struct Hpet {
    QTestState *qts;
    int64_t t0;             /* virtual ns at which the main counter was 0 */
    int64_t now;            /* virtual ns */
} Hpet;

static uint64_t rd(Hpet *h, uint64_t off)
{
    return qtest_readq(h->qts, HPET_BASE + off);
}

static void wr(Hpet *h, uint64_t off, uint64_t val)
{
    qtest_writeq(h->qts, HPET_BASE + off, val);
}

static void wr32(Hpet *h, uint64_t off, uint32_t val)
{
    qtest_writel(h->qts, HPET_BASE + off, val);
}

static QTestState *hpet_qemu(const char *extra)
{
    QTestState *qts = qtest_initf("-M q35 %s", extra);

    qtest_irq_intercept_in(qts, "ioapic");
    return qts;
}

static void hpet_init(Hpet *h)
{
    h->qts = hpet_qemu("");
    h->t0 = 0;
    h->now = qtest_clock_step(h->qts, 1);
}

/* Set the main counter (HPET disabled) and enable the HPET */
static void hpet_start(Hpet *h, uint64_t counter, uint64_t cfg)
{
    g_assert_cmpint(rd(h, HPET_CFG) & CFG_ENABLE, ==, 0);
    wr(h, HPET_COUNTER, counter);
    h->t0 = h->now - (int64_t)counter * TICK_NS;
    wr(h, HPET_CFG, cfg | CFG_ENABLE);
}

/* Advance the virtual clock to main counter value @tick */
static void at(Hpet *h, uint64_t tick)
{
    h->now = qtest_clock_set(h->qts, h->t0 + (int64_t)tick * TICK_NS);
    g_assert_cmphex(rd(h, HPET_COUNTER), ==, tick);
}

static bool isr(Hpet *h, int n)
{
    return rd(h, HPET_STATUS) & (1 << n);
}

static void clear_isr(Hpet *h, int n)
{
    wr(h, HPET_STATUS, 1 << n);
    g_assert_false(isr(h, n));
}

static bool irq(Hpet *h, int line)
{
    return qtest_get_irq(h->qts, line);
}

/* Was an FSB message delivered since the last call? */
static bool fsb_delivered(Hpet *h)
{
    uint32_t v = qtest_readl(h->qts, FSB_ADDR);

    qtest_writel(h->qts, FSB_ADDR, 0);
    g_assert(v == 0 || v == FSB_DATA);
    return v == FSB_DATA;
}

/* The comparator of a periodic timer first matching at @c0 */
static uint64_t periodic_cmp(uint64_t c0, uint64_t period, uint64_t tick)
{
    if (tick <= c0) {
        return c0;
    }
    return c0 + DIV_ROUND_UP(tick - c0, period) * period;
}

typedef struct Mode {
    bool is32;
    bool level;
} Mode;

static const Mode modes[] = {
    { false, false }, { false, true }, { true, false }, { true, true },
};

static const char *mode_name(const Mode *m)
{
    return m->is32 ? (m->level ? "32/level" : "32/edge")
                   : (m->level ? "64/level" : "64/edge");
}

/* Timer 0's delivery: level on the I/O APIC input, edge as FSB message */
static uint64_t tn_irq_cfg(const Mode *m)
{
    return m->level ? TN_LEVEL | TN_ROUTE(ROUTE(0)) : TN_FSB_ENB;
}

static void check_periodic_disabled(Hpet *h, const Mode *m, uint64_t c0,
                                    uint64_t period, uint64_t tick)
{
    uint64_t want = periodic_cmp(c0, period, tick);

    at(h, tick);
    g_assert_cmphex(rd(h, TN_CMP(0)), ==, m->is32 ? (uint32_t)want : want);
    g_assert_false(irq(h, ROUTE(0)));
    g_assert_false(fsb_delivered(h));
}

/*
 * A periodic comparator with its interrupt disabled, the way Linux leaves
 * HPET timer 0 after handing its tick to the LAPIC: the comparator still
 * advances by the period at each match, a level-triggered timer still sets
 * its status bit, and nothing is delivered; enabling the interrupt later
 * delivers from the next match on.  The 32-bit comparator runs across the
 * wrap of the low 32 bits of the main counter.
 */
static void test_periodic_disabled(const void *opaque)
{
    const Mode *m = opaque;
    uint64_t base = m->is32 ? 0xffff0000ULL : 0;
    uint64_t c0 = base + 0x8000, period = 0x10000;
    uint64_t cfg = TN_PERIODIC | tn_irq_cfg(m) | (m->is32 ? TN_32BIT : 0);
    uint64_t next;
    Hpet h;

    hpet_init(&h);
    wr(&h, TN_FSB(0), FSB_ADDR << 32 | FSB_DATA);
    /* like Linux: SETVAL, the first match, then the period */
    wr(&h, TN_CFG(0), cfg | TN_SETVAL);
    wr(&h, TN_CMP(0), m->is32 ? (uint32_t)c0 : c0);
    wr(&h, TN_CMP(0), period);
    hpet_start(&h, base, 0);
    g_assert_cmphex(rd(&h, TN_CFG(0)) & 0xffff, ==,
                    cfg | 0x30);        /* periodic and 64-bit capable */

    check_periodic_disabled(&h, m, c0, period, base + 0x100);
    g_assert_false(isr(&h, 0));
    check_periodic_disabled(&h, m, c0, period, c0 - 1);
    g_assert_false(isr(&h, 0));
    /* exactly at the match, and after it */
    check_periodic_disabled(&h, m, c0, period, c0);
    g_assert_cmpint(isr(&h, 0), ==, m->level);
    check_periodic_disabled(&h, m, c0, period, c0 + 0x200);
    g_assert_cmpint(isr(&h, 0), ==, m->level);
    clear_isr(&h, 0);
    check_periodic_disabled(&h, m, c0, period, c0 + period - 1);
    g_assert_false(isr(&h, 0));
    check_periodic_disabled(&h, m, c0, period, c0 + period);
    g_assert_cmpint(isr(&h, 0), ==, m->level);
    clear_isr(&h, 0);
    /* many periods later, without a look in between */
    check_periodic_disabled(&h, m, c0, period, c0 + 1234 * period + 0x777);
    g_assert_cmpint(isr(&h, 0), ==, m->level);
    clear_isr(&h, 0);

    /* enable the interrupt: delivered from the next match on */
    next = periodic_cmp(c0, period, c0 + 1234 * period + 0x800);
    at(&h, c0 + 1234 * period + 0x800);
    wr(&h, TN_CFG(0), cfg | TN_INT_ENB);
    at(&h, next - 1);
    g_assert_false(isr(&h, 0));
    g_assert_false(irq(&h, ROUTE(0)));
    g_assert_false(fsb_delivered(&h));
    at(&h, next + CLAMP);
    if (m->level) {
        g_assert_true(isr(&h, 0));
        g_assert_true(irq(&h, ROUTE(0)));
        clear_isr(&h, 0);
        g_assert_false(irq(&h, ROUTE(0)));
    } else {
        g_assert_false(isr(&h, 0));
        g_assert_true(fsb_delivered(&h));
    }
    at(&h, next + period / 2);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==,
                    m->is32 ? (uint32_t)(next + period) : next + period);
    g_assert_false(fsb_delivered(&h));
    at(&h, next + period);
    g_assert_cmpint(irq(&h, ROUTE(0)), ==, m->level);
    g_assert_cmpint(fsb_delivered(&h), ==, !m->level);

    /* and disabled again: the status bit only, no delivery */
    at(&h, next + period + 0x1000);
    fsb_delivered(&h);      /* a timer on time also delivers 1 us later */
    if (m->level) {
        clear_isr(&h, 0);
    }
    wr(&h, TN_CFG(0), cfg);
    check_periodic_disabled(&h, m, next, period, next + 3 * period - 0x100);
    check_periodic_disabled(&h, m, next, period, next + 3 * period + 0x100);
    g_assert_cmpint(isr(&h, 0), ==, m->level);
    qtest_quit(h.qts);
}

/*
 * A one-shot comparator matches once; a 32-bit one set beyond the wrap of
 * the low 32 bits of the main counter also matches at the wrap (the HPET
 * spec's "interrupt when the counter wraps").  With the interrupt disabled
 * the level-triggered status bit is set all the same.
 */
static void test_oneshot(const void *opaque)
{
    const Mode *m = opaque;
    uint64_t base = m->is32 ? 0xfffff000ULL : 0x1000;
    uint64_t target = m->is32 ? 0x100000800ULL : 0x8000;
    uint64_t wrap = 0x100000000ULL;
    uint64_t cfg = tn_irq_cfg(m) | (m->is32 ? TN_32BIT : 0);
    bool enabled;

    for (enabled = false; ; enabled = true) {
        uint64_t c = cfg | (enabled ? TN_INT_ENB : 0);
        Hpet h;

        hpet_init(&h);
        wr(&h, TN_FSB(0), FSB_ADDR << 32 | FSB_DATA);
        wr(&h, TN_CFG(0), c);
        wr(&h, TN_CMP(0), m->is32 ? (uint32_t)target : target);
        hpet_start(&h, base, 0);
        g_assert_cmphex(rd(&h, TN_CMP(0)), ==,
                        m->is32 ? (uint32_t)target : target);

        at(&h, base + 0x400);
        g_assert_false(isr(&h, 0));
        g_assert_false(irq(&h, ROUTE(0)));
        g_assert_false(fsb_delivered(&h));
        if (m->is32) {
            at(&h, wrap - 1);
            g_assert_false(isr(&h, 0));
            at(&h, wrap);
            g_assert_cmpint(isr(&h, 0), ==, m->level);
            g_assert_cmpint(irq(&h, ROUTE(0)), ==, m->level && enabled);
            g_assert_cmpint(fsb_delivered(&h), ==, !m->level && enabled);
            if (m->level) {
                clear_isr(&h, 0);
            }
            g_assert_false(irq(&h, ROUTE(0)));
        }
        at(&h, target - 1);
        g_assert_false(isr(&h, 0));
        g_assert_false(fsb_delivered(&h));
        at(&h, target);
        g_assert_cmpint(isr(&h, 0), ==, m->level);
        g_assert_cmpint(irq(&h, ROUTE(0)), ==, m->level && enabled);
        g_assert_cmpint(fsb_delivered(&h), ==, !m->level && enabled);
        if (m->level) {
            clear_isr(&h, 0);
        }
        /* once */
        at(&h, target + 0x100000);
        g_assert_false(isr(&h, 0));
        g_assert_false(irq(&h, ROUTE(0)));
        g_assert_false(fsb_delivered(&h));
        g_assert_cmphex(rd(&h, TN_CMP(0)), ==,
                        m->is32 ? (uint32_t)target : target);
        qtest_quit(h.qts);
        if (enabled) {
            break;
        }
    }
}

/*
 * Legacy replacement route: timer 0 to IRQ0 (I/O APIC input 0), timer 1 to
 * IRQ8, whatever their route fields say.  Timer 0 runs as Linux leaves it
 * (periodic, edge, interrupt disabled) while timer 1 delivers.
 */
static void test_legacy(void)
{
    uint64_t period = 400000;   /* 4 ms, 250 Hz */
    Hpet h;

    hpet_init(&h);
    hpet_start(&h, 0, CFG_LEGACY);
    wr(&h, TN_CFG(0), TN_PERIODIC | TN_SETVAL | TN_INT_ENB);
    wr(&h, TN_CMP(0), period);
    wr(&h, TN_CMP(0), period);
    at(&h, period);
    g_assert_false(irq(&h, 0));         /* an edge: a pulse on IRQ0 */
    wr(&h, TN_CFG(0), TN_PERIODIC);     /* Linux: clockevent shutdown */
    wr(&h, TN_CMP(1), 5 * period + 1717);
    wr(&h, TN_CFG(1), TN_LEVEL | TN_INT_ENB | TN_ROUTE(ROUTE(1)));

    at(&h, 5 * period + 1716);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 6 * period);
    g_assert_false(irq(&h, 8));
    g_assert_false(irq(&h, ROUTE(1)));
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 0);
    at(&h, 5 * period + 1717);
    g_assert_true(irq(&h, 8));
    g_assert_false(irq(&h, ROUTE(1)));
    g_assert_false(irq(&h, 0));
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 2);
    clear_isr(&h, 1);
    g_assert_false(irq(&h, 8));

    /* leaving legacy mode: timer 1 on its own route */
    at(&h, 1000 * period + 200);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 1001 * period);
    wr(&h, HPET_CFG, 0);
    wr(&h, TN_CFG(1), TN_LEVEL | TN_INT_ENB | TN_ROUTE(ROUTE(1)) |
       TN_PERIODIC | TN_SETVAL);
    wr(&h, TN_CMP(1), 1002 * period);
    wr(&h, TN_CMP(1), period);
    hpet_start(&h, 1000 * period + 200, 0);
    at(&h, 1002 * period - 1);
    g_assert_false(irq(&h, ROUTE(1)));
    at(&h, 1002 * period);
    g_assert_true(irq(&h, ROUTE(1)));
    g_assert_false(irq(&h, 8));
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 1002 * period);
    qtest_quit(h.qts);
}

/*
 * HPET disable halts the main counter and the comparators with it; enable
 * resumes them where they stopped.  Timers programmed before and after
 * the HPET is enabled behave the same.
 */
static void test_disable_enable(void)
{
    uint64_t p = 3000;
    Hpet h;

    hpet_init(&h);
    /* timer 0 programmed before enable, timer 2 after */
    wr(&h, TN_CFG(0), TN_PERIODIC | TN_SETVAL | TN_LEVEL);
    wr(&h, TN_CMP(0), p);
    hpet_start(&h, 0, 0);
    wr(&h, TN_CFG(2), TN_PERIODIC | TN_SETVAL | TN_LEVEL | TN_INT_ENB |
       TN_ROUTE(ROUTE(2)));
    wr(&h, TN_CMP(2), p);

    at(&h, p - 1);
    wr(&h, HPET_STATUS, 5);
    g_assert_false(irq(&h, ROUTE(2)));
    at(&h, p);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 5);
    g_assert_true(irq(&h, ROUTE(2)));
    wr(&h, HPET_STATUS, 5);
    g_assert_false(irq(&h, ROUTE(2)));
    at(&h, 11 * p + 500);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 5);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 12 * p);
    g_assert_cmphex(rd(&h, TN_CMP(2)), ==, 12 * p);
    wr(&h, HPET_STATUS, 5);

    /* disable: counter, comparators and status stand still */
    wr(&h, HPET_CFG, 0);
    g_assert_false(irq(&h, ROUTE(2)));
    h.now = qtest_clock_step(h.qts, 100 * p * TICK_NS);
    g_assert_cmphex(rd(&h, HPET_COUNTER), ==, 11 * p + 500);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 12 * p);
    g_assert_cmphex(rd(&h, TN_CMP(2)), ==, 12 * p);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 0);

    /* enable: from where they stopped */
    hpet_start(&h, 11 * p + 500, 0);
    at(&h, 12 * p - 1);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 0);
    at(&h, 12 * p);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 5);
    g_assert_true(irq(&h, ROUTE(2)));
    at(&h, 13 * p + 200);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 14 * p);
    g_assert_cmphex(rd(&h, TN_CMP(2)), ==, 14 * p);
    qtest_quit(h.qts);
}

/*
 * The interrupt enable toggled while a level-triggered periodic timer
 * runs: enabling it with the status bit set raises the interrupt at once,
 * a disabled timer delivers nothing and keeps setting its status bit.
 */
static void test_int_enable_toggle(void)
{
    uint64_t period = 5000, c0 = 5000;
    uint64_t cfg = TN_PERIODIC | TN_LEVEL | TN_ROUTE(ROUTE(0));
    Hpet h;
    int i;

    hpet_init(&h);
    wr(&h, TN_CFG(0), cfg | TN_SETVAL);
    wr(&h, TN_CMP(0), c0);
    wr(&h, TN_CMP(0), period);
    hpet_start(&h, 0, 0);
    for (i = 0; i < 6; i++) {
        uint64_t match = c0 + i * period;
        bool on = i & 1;

        at(&h, match - 1);
        g_assert_cmpint(irq(&h, ROUTE(0)), ==, false);
        at(&h, match + CLAMP);
        g_assert_true(isr(&h, 0));
        g_assert_cmpint(irq(&h, ROUTE(0)), ==, on);
        at(&h, match + 200);
        g_assert_cmphex(rd(&h, TN_CMP(0)), ==, match + period);
        /* toggle with the status bit set, then clear it */
        wr(&h, TN_CFG(0), cfg | (on ? 0 : TN_INT_ENB));
        if (!on) {
            g_assert_true(irq(&h, ROUTE(0)));
        }
        clear_isr(&h, 0);
        g_assert_false(irq(&h, ROUTE(0)));
    }
    qtest_quit(h.qts);
}

/*
 * SETVAL: the next comparator write of a periodic timer sets the
 * comparator (and the period), the writes after it the period only.
 */
static void test_setval(void)
{
    uint64_t cfg = TN_PERIODIC | TN_LEVEL;
    Hpet h;

    hpet_init(&h);
    wr(&h, TN_CFG(0), cfg | TN_SETVAL);
    wr(&h, TN_CMP(0), 2000);
    g_assert_cmphex(rd(&h, TN_CFG(0)) & TN_SETVAL, ==, 0);
    hpet_start(&h, 0, 0);
    /* period 2000 until here */
    at(&h, 6100);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 8000);
    wr(&h, TN_CMP(0), 700);             /* period only */
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 8000);
    at(&h, 8000 + 3 * 700 + 300);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 8000 + 4 * 700);
    /* a new first match while running, then a new period */
    wr(&h, TN_CFG(0), cfg | TN_SETVAL);
    wr32(&h, TN_CMP(0), 20000);
    wr32(&h, TN_CMP(0) + 4, 0);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 20000);
    wr(&h, TN_CMP(0), 900);
    clear_isr(&h, 0);
    at(&h, 19999);
    g_assert_false(isr(&h, 0));
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 20000);
    at(&h, 20000 + 5 * 900 + 150);
    g_assert_true(isr(&h, 0));
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, 20000 + 6 * 900);
    qtest_quit(h.qts);
}

/*
 * With the interrupt disabled no host timer is armed: stepping the
 * virtual clock to the next deadline of any timer goes past the matches
 * of timer 0 to the match of timer 1, whose interrupt is enabled.  The
 * comparator reads the same as if the timer had run.
 */
static void test_no_host_timer(void)
{
    uint64_t period = 1000, far = 50000 + 7;
    Hpet h;
    int64_t t;

    hpet_init(&h);
    hpet_start(&h, 0, 0);
    wr(&h, TN_CFG(0), TN_PERIODIC | TN_SETVAL);
    wr(&h, TN_CMP(0), period);
    wr(&h, TN_CMP(0), period);
    wr(&h, TN_CFG(1), TN_INT_ENB | TN_ROUTE(ROUTE(1)));
    wr(&h, TN_CMP(1), far);

    t = h.now = qtest_clock_step_next(h.qts);
    g_assert_cmpint(t, ==, h.t0 + far * TICK_NS);
    g_assert_cmphex(rd(&h, HPET_COUNTER), ==, far);
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, periodic_cmp(period, period, far));

    /* and none for a one-shot either, nor after a read */
    wr(&h, TN_CFG(0), 0);
    wr(&h, TN_CMP(0), far + 100);
    wr(&h, TN_CFG(1), TN_INT_ENB | TN_ROUTE(ROUTE(1)));
    wr(&h, TN_CMP(1), far + 300);
    t = h.now = qtest_clock_step_next(h.qts);
    g_assert_cmpint(t, ==, h.t0 + (far + 300) * TICK_NS);
    qtest_quit(h.qts);
}

/* Migration: the source may be another QEMU (an unpatched one) */
static QTestState *migrate(Hpet *h)
{
    g_autofree char *tmpl = g_strdup("hpet-paiov-mig-XXXXXX");
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    int64_t now = h->now;
    QTestState *dst;
    int fd = g_file_open_tmp(tmpl, &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    uri = g_strdup_printf("file:%s", path);
    qtest_qmp_assert_success(h->qts, "{ 'execute': 'migrate', 'arguments':"
                             " { 'uri': %s } }", uri);
    for (;;) {
        QDict *rsp = qtest_qmp(h->qts, "{ 'execute': 'query-migrate' }");
        const char *st = qdict_get_try_str(qdict_get_qdict(rsp, "return"),
                                           "status");
        bool done = st && !strcmp(st, "completed");

        g_assert_cmpstr(st ?: "", !=, "failed");
        qobject_unref(rsp);
        if (done) {
            break;
        }
        g_usleep(10 * 1000);
    }
    qtest_quit(h->qts);

    dst = qtest_init_with_env("HPET_PAIOV_DST_QEMU",
                              "-M q35 -incoming defer", true);
    qtest_irq_intercept_in(dst, "ioapic");
    /* the qtest clock is not migrated: resume at the same virtual time */
    qtest_clock_set(dst, now);
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming',"
                             " 'arguments': { 'uri': %s } }", uri);
    for (;;) {
        QDict *rsp = qtest_qmp(dst, "{ 'execute': 'query-status' }");
        const char *st = qdict_get_try_str(qdict_get_qdict(rsp, "return"),
                                           "status");
        bool done = st && !strcmp(st, "running");

        qobject_unref(rsp);
        if (done) {
            break;
        }
        g_usleep(10 * 1000);
    }
    unlink(path);
    h->qts = dst;
    return dst;
}

/*
 * Migration in each mode, the interrupt disabled and enabled: after the
 * load the guest reads the same comparators and status bits and gets the
 * same interrupts as without migration.  HPET_PAIOV_SRC_QEMU and
 * HPET_PAIOV_DST_QEMU may name other QEMU binaries (an unpatched one).
 */
static void test_migration(const void *opaque)
{
    const Mode *m = opaque;
    uint64_t base = m->is32 ? 0xffff0000ULL : 0x100;
    uint64_t c0 = base + 0x8000, period = 0x10000;
    uint64_t target = c0 + 7 * period + 0x1234;
    uint64_t p0 = TN_PERIODIC | tn_irq_cfg(m) | (m->is32 ? TN_32BIT : 0);
    uint64_t p1 = TN_PERIODIC | TN_LEVEL | TN_INT_ENB | TN_ROUTE(ROUTE(1)) |
        (m->is32 ? TN_32BIT : 0);
    uint64_t o2 = TN_LEVEL | TN_ROUTE(ROUTE(2)) | (m->is32 ? TN_32BIT : 0);
    uint64_t t;
    Hpet h;

    h.qts = qtest_init_with_env("HPET_PAIOV_SRC_QEMU", "-M q35", true);
    qtest_irq_intercept_in(h.qts, "ioapic");
    h.now = qtest_clock_step(h.qts, 1);
    wr(&h, TN_FSB(0), FSB_ADDR << 32 | FSB_DATA);
    /* 0: periodic disabled, 1: periodic enabled, 2: one-shot disabled */
    wr(&h, TN_CFG(0), p0 | TN_SETVAL);
    wr(&h, TN_CMP(0), m->is32 ? (uint32_t)c0 : c0);
    wr(&h, TN_CMP(0), period);
    wr(&h, TN_CFG(1), p1 | TN_SETVAL);
    wr(&h, TN_CMP(1), m->is32 ? (uint32_t)c0 : c0);
    wr(&h, TN_CMP(1), period);
    wr(&h, TN_CFG(2), o2);
    wr(&h, TN_CMP(2), m->is32 ? (uint32_t)target : target);
    hpet_start(&h, base, 0);

    /* migrate after a few matches of 0 and 1, before the one of 2 */
    t = c0 + 5 * period + 0x300;
    at(&h, t);
    /* a 32-bit one-shot comparator also matches when the counter wraps */
    g_assert_cmphex(rd(&h, HPET_STATUS), ==,
                    (m->level ? 3 : 2) | (m->is32 ? 4 : 0));
    g_assert_true(irq(&h, ROUTE(1)));
    clear_isr(&h, 1);
    migrate(&h);

    g_assert_cmphex(rd(&h, HPET_COUNTER), ==, t);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==,
                    (m->level ? 1 : 0) | (m->is32 ? 4 : 0));
    g_assert_cmphex(rd(&h, TN_CMP(0)), ==, (uint32_t)(c0 + 6 * period) |
                    (m->is32 ? 0 : (c0 + 6 * period) >> 32 << 32));
    g_assert_cmphex(rd(&h, TN_CMP(1)), ==, rd(&h, TN_CMP(0)));
    g_assert_cmphex(rd(&h, TN_CFG(0)) & 0xffff, ==, p0 | 0x30);
    g_assert_false(irq(&h, ROUTE(1)));
    wr(&h, HPET_STATUS, 5);

    at(&h, c0 + 6 * period - 1);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, 0);
    g_assert_false(irq(&h, ROUTE(1)));
    at(&h, c0 + 6 * period);
    g_assert_cmphex(rd(&h, HPET_STATUS), ==, m->level ? 3 : 2);
    g_assert_true(irq(&h, ROUTE(1)));
    g_assert_false(irq(&h, ROUTE(0)));
    g_assert_false(fsb_delivered(&h));
    wr(&h, HPET_STATUS, 3);
    at(&h, target - 1);
    g_assert_false(isr(&h, 2));
    at(&h, target);
    g_assert_true(isr(&h, 2));
    g_assert_false(irq(&h, ROUTE(2)));
    at(&h, c0 + 20 * period + 0x1000);
    g_assert_cmphex(rd(&h, TN_CMP(0)) & 0xffffffff, ==,
                    (uint32_t)(c0 + 21 * period));
    g_assert_cmphex(rd(&h, TN_CMP(1)) & 0xffffffff, ==,
                    (uint32_t)(c0 + 21 * period));

    /* enabling timer 0's interrupt after the migration */
    wr(&h, HPET_STATUS, 7);
    wr(&h, TN_CFG(0), p0 | TN_INT_ENB);
    at(&h, c0 + 21 * period - 1);
    g_assert_false(irq(&h, ROUTE(0)));
    g_assert_false(fsb_delivered(&h));
    at(&h, c0 + 21 * period + CLAMP);
    g_assert_cmpint(irq(&h, ROUTE(0)), ==, m->level);
    g_assert_cmpint(fsb_delivered(&h), ==, !m->level);
    qtest_quit(h.qts);
}

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(modes); i++) {
        g_autofree char *p = g_strdup_printf("/hpet-paiov/periodic-disabled/%s",
                                             mode_name(&modes[i]));
        g_autofree char *o = g_strdup_printf("/hpet-paiov/oneshot/%s",
                                             mode_name(&modes[i]));
        g_autofree char *mig = g_strdup_printf("/hpet-paiov/migration/%s",
                                               mode_name(&modes[i]));

        qtest_add_data_func(p, &modes[i], test_periodic_disabled);
        qtest_add_data_func(o, &modes[i], test_oneshot);
        qtest_add_data_func(mig, &modes[i], test_migration);
    }
    qtest_add_func("/hpet-paiov/legacy", test_legacy);
    qtest_add_func("/hpet-paiov/disable-enable", test_disable_enable);
    qtest_add_func("/hpet-paiov/int-enable-toggle", test_int_enable_toggle);
    qtest_add_func("/hpet-paiov/setval", test_setval);
    qtest_add_func("/hpet-paiov/no-host-timer", test_no_host_timer);
    return g_test_run();
}
