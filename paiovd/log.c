/*
 * paiovd: log lines to stderr (the journal, under systemd)
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "paiovd.h"

#include <stdio.h>

void paiovd_log(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "paiovd: %s\n", msg);
    fflush(stderr);
}
