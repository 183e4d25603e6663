/*
 * fbfill: paint the guest framebuffer in two colours, for the display
 * end-to-end test (tests/e2e/test_display.py).
 *
 *   fbfill TOP BOTTOM [DEVICE]
 *
 * TOP and BOTTOM are 0xRRGGBB colours for the upper and lower half of
 * the screen; DEVICE defaults to /dev/fb0 (32 bpp XRGB only).  It draws
 * through mmap, not write(): the DRM fbdev emulation of Linux 6.1 only
 * flushes what was written through a mapping (deferred I/O) to the
 * buffer the display scans out.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int parse_colour(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || v > 0xffffff) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dev = argc > 3 ? argv[3] : "/dev/fb0";
    struct fb_var_screeninfo var;
    struct fb_fix_screeninfo fix;
    uint32_t top, bottom;
    uint8_t *fb;
    uint32_t x, y;
    int fd;

    if (argc < 3 || argc > 4 || parse_colour(argv[1], &top) ||
        parse_colour(argv[2], &bottom)) {
        fprintf(stderr, "usage: fbfill 0xRRGGBB 0xRRGGBB [DEVICE]\n");
        return 2;
    }
    fd = open(dev, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "fbfill: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    if (ioctl(fd, FBIOGET_VSCREENINFO, &var) ||
        ioctl(fd, FBIOGET_FSCREENINFO, &fix)) {
        fprintf(stderr, "fbfill: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    if (var.bits_per_pixel != 32) {
        fprintf(stderr, "fbfill: %s: %u bpp, only 32 is supported\n", dev,
                var.bits_per_pixel);
        return 1;
    }
    fb = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fb == MAP_FAILED) {
        fprintf(stderr, "fbfill: mmap %s: %s\n", dev, strerror(errno));
        return 1;
    }
    for (y = 0; y < var.yres; y++) {
        uint32_t *row = (uint32_t *)(fb + (size_t)(y + var.yoffset) *
                                     fix.line_length);
        uint32_t c = y < var.yres / 2 ? top : bottom;

        for (x = 0; x < var.xres; x++) {
            row[x + var.xoffset] = c;
        }
    }
    if (msync(fb, fix.smem_len, MS_SYNC)) {
        fprintf(stderr, "fbfill: msync: %s\n", strerror(errno));
        return 1;
    }
    munmap(fb, fix.smem_len);
    close(fd);
    printf("%ux%u\n", var.xres, var.yres);
    return 0;
}
