/*
 * paiovd: thermal urgency (section 4.3 of the PAIOV paper)
 *
 * The thermal zones of the host, SYSFS-ROOT/class/thermal/thermal_zoneN:
 * temp and trip_point_N_temp in millidegrees Celsius, trip_point_N_type
 * (passive, critical, active, hot).  Only passive and critical trips
 * count: active trips start fans, not throttling.  Each file is read
 * with O_NOFOLLOW|O_NONBLOCK and at most 64 bytes; a zone that cannot be
 * read is left out.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include "paiovd.h"
#include "paiov/paiov-sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ZONES 64
#define MAX_TRIPS 32

static bool read_small(int dirfd, const char *name, char *buf, size_t len)
{
    int fd = paiov_sysfs_openat(dirfd, name, O_RDONLY, 0);
    ssize_t n;

    if (fd < 0) {
        return false;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    g_strstrip(buf);
    return true;
}

static bool read_int(int dirfd, const char *name, int *out)
{
    char buf[PAIOVD_SMALL_MAX];
    char *end;
    gint64 v;

    if (!read_small(dirfd, name, buf, sizeof(buf))) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoll(buf, &end, 10);
    if (errno || end == buf || *end || v < INT_MIN || v > INT_MAX) {
        return false;
    }
    *out = v;
    return true;
}

static void zone_free(gpointer data)
{
    PaiovdZone *z = data;

    g_free(z->name);
    g_free(z);
}

GPtrArray *paiovd_thermal_scan(const char *sysfs_root)
{
    g_autofree char *dir = g_build_filename(sysfs_root, "class", "thermal",
                                            NULL);
    GPtrArray *zones = g_ptr_array_new_with_free_func(zone_free);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        return zones;
    }
    while ((e = readdir(d)) && zones->len < MAX_ZONES) {
        PaiovdZone *z;
        int zfd, t, i;

        if (!g_str_has_prefix(e->d_name, "thermal_zone")) {
            continue;
        }
        /* the class directory links to the zones: follow that one link */
        zfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
                     O_CLOEXEC);
        if (zfd < 0) {
            continue;
        }
        if (!read_int(zfd, "temp", &t)) {
            close(zfd);
            continue;
        }
        z = g_new0(PaiovdZone, 1);
        z->name = g_strdup(e->d_name);
        z->temp_mc = t;
        z->trip_mc = INT_MAX;
        for (i = 0; i < MAX_TRIPS; i++) {
            char name[48], type[16];
            int trip;

            snprintf(name, sizeof(name), "trip_point_%d_type", i);
            if (!read_small(zfd, name, type, sizeof(type))) {
                break;
            }
            snprintf(name, sizeof(name), "trip_point_%d_temp", i);
            if ((strcmp(type, "passive") && strcmp(type, "critical")) ||
                !read_int(zfd, name, &trip) || trip <= 0) {
                continue;
            }
            if (trip < z->trip_mc) {
                z->trip_mc = trip;
                g_strlcpy(z->trip_type, type, sizeof(z->trip_type));
            }
        }
        close(zfd);
        g_ptr_array_add(zones, z);
    }
    closedir(d);
    return zones;
}

bool paiovd_thermal_hot(GPtrArray *zones, bool throttled,
                        unsigned hysteresis_mc)
{
    bool all_cool = true;
    unsigned i;

    for (i = 0; i < zones->len; i++) {
        PaiovdZone *z = g_ptr_array_index(zones, i);

        if (z->trip_mc == INT_MAX) {
            continue;
        }
        if (z->temp_mc >= z->trip_mc) {
            return true;
        }
        if ((int64_t)z->temp_mc > (int64_t)z->trip_mc - hysteresis_mc) {
            all_cool = false;
        }
    }
    return throttled && !all_cool;
}
