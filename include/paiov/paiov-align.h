/*
 * PAIOV pooling: where a proxy PMA lets deferrable periodic work run
 *
 * The host coordinator (paiovd) gives every proxy PMA of the host the same
 * grid on CLOCK_MONOTONIC: ticks at @phase_ns + k * @period_ns.  Work a
 * device may defer (a passive idle check, a rate-limited event) is moved
 * to the first tick at or after its deadline, so that the QEMUs of the
 * host wake up together rather than each at its own phase.  A strict VM
 * (the master of the paper's section 4.3) is never delayed; a relaxed one
 * waits for a tick at most @max_delay_ns, else keeps its deadline.
 *
 * Pure arithmetic, no state: the proxy PMA converts deadlines between
 * its clocks and the grid's (paiov-pma.c), the unit test checks this.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_ALIGN_H
#define PAIOV_PAIOV_ALIGN_H

typedef struct PaiovAlign {
    int64_t period_ns;              /* 0: no grid, nothing moves */
    int64_t phase_ns;               /* in [0, period_ns) */
    int64_t max_delay_ns;           /* how late relaxed work may run */
    bool strict;                    /* never delayed */
} PaiovAlign;

/*
 * The time at which deferrable work due at @deadline_ns (on the grid's
 * clock) runs: the first tick >= @deadline_ns if that is at most
 * @max_delay_ns later and the VM is not strict, else @deadline_ns.
 */
static inline int64_t paiov_align_deadline(const PaiovAlign *a,
                                           int64_t deadline_ns)
{
    int64_t off, tick;

    if (a->period_ns <= 0 || a->strict || deadline_ns < 0 ||
        deadline_ns > INT64_MAX - a->period_ns) {
        return deadline_ns;
    }
    off = (deadline_ns - a->phase_ns % a->period_ns) % a->period_ns;
    if (off < 0) {
        off += a->period_ns;
    }
    tick = off ? deadline_ns + (a->period_ns - off) : deadline_ns;
    return tick - deadline_ns <= a->max_delay_ns ? tick : deadline_ns;
}

#endif /* PAIOV_PAIOV_ALIGN_H */
