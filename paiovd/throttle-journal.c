/*
 * paiovd: the journal of the policies a thermal throttle replaced
 *
 * While the daemon throttles a VM, the policies its PMAs had before are
 * journaled in the state dir, one entry per VM ("PMA-path TAB policy"
 * lines, written through a temporary, fsync'ed and renamed), so that a
 * daemon killed while throttling does not leave the VMs at powersave:
 * the next daemon sets them back when they rejoin.  The entry is removed
 * when the throttle is lifted.
 *
 * The entry is keyed by the QEMU process itself, not by what QEMU says it
 * is: the boot, the peer's pid (SO_PEERCRED, checked by the kernel) and
 * the process's start time (/proc/PID/stat), so that the only peer that
 * finds a VM's entry is that same QEMU process joining again.  A QEMU
 * claiming another VM's name or UUID cannot take, overwrite or remove its
 * entry, and a new VM with the name of one that quit under a killed
 * daemon does not get that VM's policies.  Entries of processes that are
 * gone are removed at the daemon's start.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "paiovd.h"
#include "paiov/paiov-sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool paiovd_printable(const char *s)
{
    size_t i;

    if (!s) {
        return false;
    }
    for (i = 0; s[i]; i++) {
        if (i >= 255 || s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

#define JOURNAL_PREFIX "throttle."

bool paiovd_proc_start_time(pid_t pid, guint64 *start_time)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    char buf[1024];
    g_auto(GStrv) fields = NULL;
    const char *end;
    char *rest;
    guint64 v;

    /* "PID (COMM) STATE ... STARTTIME ...": COMM may hold anything */
    if (pid <= 0 || paiov_sysfs_read(AT_FDCWD, path, buf, sizeof(buf)) < 0) {
        return false;
    }
    end = strrchr(buf, ')');
    if (!end) {
        return false;
    }
    fields = g_strsplit(end + 1, " ", 22);
    /* fields[0] is "" (the blank after ')'), [1] field 3 ... [20] field 22 */
    if (g_strv_length(fields) < 21) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(fields[20], &rest, 10);
    if (errno || rest == fields[20] || *rest || !v) {
        return false;
    }
    *start_time = v;
    return true;
}

/* This boot's id without its dashes; "0" when the kernel does not say */
static const char *boot_id(void)
{
    static char id[64];

    if (!id[0]) {
        char *r, *w;

        if (paiov_sysfs_read(AT_FDCWD, "/proc/sys/kernel/random/boot_id", id,
                             sizeof(id)) < 0 || !id[0]) {
            g_strlcpy(id, "0", sizeof(id));
        }
        for (r = w = id; *r; r++) {
            if (*r != '-') {
                *w++ = g_ascii_isxdigit(*r) ? *r : 'x';
            }
        }
        *w = '\0';
    }
    return id;
}

/*
 * throttle.BOOT.PID.STARTTIME of the QEMU process; NULL (no journal)
 * when its start time is not known (its pid is not visible here)
 */
char *paiovd_throttle_journal_name(const PaiovdVmId *vm)
{
    if (vm->pid <= 0 || !vm->start_time) {
        return NULL;
    }
    return g_strdup_printf(JOURNAL_PREFIX "%s.%d.%" G_GUINT64_FORMAT,
                           boot_id(), (int)vm->pid, vm->start_time);
}

void paiovd_throttle_journal_write(int state_fd, const PaiovdVmId *vm,
                                   GHashTable *saved, const char *label)
{
    g_autofree char *name = paiovd_throttle_journal_name(vm);
    g_autofree char *tmp = NULL;
    g_autoptr(GString) text = g_string_new("");
    GHashTableIter it;
    gpointer key, value;
    int fd;
    bool ok;

    if (!name || strlen(name) + 4 > NAME_MAX) {
        return;
    }
    /* who it said it was, for whoever reads the state dir */
    g_string_append_printf(text, "# vm '%s' uuid %s\n",
                           paiovd_printable(vm->name) ? vm->name : "",
                           paiovd_printable(vm->uuid) ? vm->uuid : "-");
    g_hash_table_iter_init(&it, saved);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_string_append_printf(text, "%s\t%s\n", (char *)key, (char *)value);
    }
    tmp = g_strconcat(name, ".tmp", NULL);
    unlinkat(state_fd, tmp, 0);
    fd = openat(state_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                O_CLOEXEC, 0600);
    if (fd < 0) {
        paiovd_log("%s: cannot journal the policies: %s", label,
                   g_strerror(errno));
        return;
    }
    ok = write(fd, text->str, text->len) == (ssize_t)text->len &&
         !fsync(fd);
    close(fd);
    if (!ok || renameat(state_fd, tmp, state_fd, name) < 0) {
        paiovd_log("%s: cannot journal the policies", label);
        unlinkat(state_fd, tmp, 0);
        return;
    }
    fsync(state_fd);
}

void paiovd_throttle_journal_remove(int state_fd, const PaiovdVmId *vm)
{
    g_autofree char *name = paiovd_throttle_journal_name(vm);

    if (name && !unlinkat(state_fd, name, 0)) {
        fsync(state_fd);
    }
}

void paiovd_throttle_journal_load(int state_fd, const PaiovdVmId *vm,
                                  GHashTable *saved)
{
    g_autofree char *name = paiovd_throttle_journal_name(vm);
    char buf[PAIOVD_JOURNAL_MAX];
    g_auto(GStrv) lines = NULL;
    struct stat st;
    ssize_t n;
    int fd, i;

    if (!name) {
        return;
    }
    fd = openat(state_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    n = fstat(fd, &st) || !S_ISREG(st.st_mode) ? -1
        : read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        return;
    }
    buf[n] = '\0';
    lines = g_strsplit(buf, "\n", -1);
    for (i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], "\t", 2);

        if (f[0] && f[1] && paiovd_printable(f[0]) &&
            (!strcmp(f[1], "performance") || !strcmp(f[1], "balanced") ||
             !strcmp(f[1], "powersave")) &&
            !g_hash_table_contains(saved, f[0])) {
            g_hash_table_insert(saved, g_strdup(f[0]), g_strdup(f[1]));
        }
    }
}

/*
 * At the daemon's start: remove the entries of processes that are gone
 * (another boot, no such pid, or a pid now used by another process),
 * which nobody will ever find again.  Entries of another form are left
 * alone.
 */
void paiovd_throttle_journal_sweep(int state_fd)
{
    int fd = dup(state_fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
    struct dirent *de;
    unsigned i, seen = 0;

    if (!dir) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((de = readdir(dir)) && ++seen <= 4096) {
        g_auto(GStrv) f = NULL;
        PaiovdVmId vm = { 0 };
        guint64 now;
        char *end;

        if (!g_str_has_prefix(de->d_name, JOURNAL_PREFIX)) {
            continue;
        }
        f = g_strsplit(de->d_name + strlen(JOURNAL_PREFIX), ".", 4);
        if (g_strv_length(f) != 3) {
            continue;
        }
        vm.pid = g_ascii_strtoll(f[1], &end, 10);
        if (*end || vm.pid <= 0) {
            continue;
        }
        vm.start_time = g_ascii_strtoull(f[2], &end, 10);
        if (*end || !vm.start_time) {
            continue;
        }
        if (strcmp(f[0], boot_id()) ||
            !paiovd_proc_start_time(vm.pid, &now) || now != vm.start_time) {
            g_ptr_array_add(stale, g_strdup(de->d_name));
        }
    }
    closedir(dir);
    for (i = 0; i < stale->len; i++) {
        const char *name = g_ptr_array_index(stale, i);

        paiovd_log("journal: %s: its QEMU is gone; removed", name);
        unlinkat(state_fd, name, 0);
    }
    if (stale->len) {
        fsync(state_fd);
    }
}
