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
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "paiovd.h"

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

/* throttle.<hex of the VM's UUID, or name>; NULL: no journal */
char *paiovd_throttle_journal_name(const PaiovdVmId *vm)
{
    const char *key = vm->uuid && *vm->uuid &&
                      strcmp(vm->uuid, "00000000-0000-0000-0000-000000000000")
                      ? vm->uuid : vm->name;
    GString *name;
    const char *c;

    if (!key || !*key) {
        return NULL;                /* cannot be told apart: no journal */
    }
    name = g_string_new("throttle.");
    for (c = key; *c; c++) {
        g_string_append_printf(name, "%02x", (unsigned char)*c);
    }
    return g_string_free(name, FALSE);
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
