/*
 * vgastorm: blank and unblank the VGA as fast as the guest can, through
 * the attribute controller's palette address source bit (as bochs-drm
 * and the VGA BIOS blank), and print how long it took.
 *
 *   vgastorm N        N blank/unblank pairs; prints "N pairs in T ns"
 *
 * For the "a guest toggling blank thousands of times per second"
 * measurement of docs/benchmark.md (stock VGA vs vga-paiov).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <time.h>

#define VGA_ATT_W 0x3c0
#define VGA_IS1_RC 0x3da        /* colour mode status: resets the flip-flop */

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc == 2 ? strtol(argv[1], NULL, 0) : 0;
    long long t0;
    long i;

    if (n <= 0) {
        fprintf(stderr, "usage: vgastorm PAIRS\n");
        return 2;
    }
    if (iopl(3)) {
        fprintf(stderr, "vgastorm: iopl: %s\n", strerror(errno));
        return 1;
    }
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        inb(VGA_IS1_RC);
        outb(0x00, VGA_ATT_W);          /* blank */
        inb(VGA_IS1_RC);
        outb(0x20, VGA_ATT_W);          /* unblank */
    }
    printf("%ld pairs in %lld ns\n", n, now_ns() - t0);
    return 0;
}
