/*
 * paiovd: runtime-PM knobs and the journal of their original values
 *
 * A knob is DEVICE/power/control ("on" or "auto") and
 * DEVICE/power/autosuspend_delay_ms of a host device named by the
 * configuration.  The aggregation rule is QEMU's own (hw/paiov/paiov-rpm.c):
 * every voting device low-power -> "auto" with the longest delay voted;
 * any voting device active -> "on"; no vote left -> the original values.
 *
 * Before the first write the originals are journaled in
 * STATEDIR/knob.PATH ('/' -> '!'), written to a temporary created with
 * O_EXCL, fsync'ed and renamed; the entry is removed once they are back.
 * A daemon killed with SIGKILL finds the entries at its next start and
 * restores them before any VM votes again.
 *
 * Nothing below the sysfs root is trusted blindly: every attribute is
 * opened relative to DEVICE/power (itself opened without following a
 * link) with O_NOFOLLOW | O_NONBLOCK and must be a regular file (no link,
 * no FIFO); reads are bounded.
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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_PREFIX "knob."

int paiovd_knob_read(const PaiovdKnob *k, const char *attr, char *buf,
                     size_t len)
{
    int pfd = paiov_sysfs_power_dir(k->device_dir);
    int ret;

    if (pfd < 0) {
        return pfd;
    }
    ret = paiov_sysfs_read(pfd, attr, buf, len);
    close(pfd);
    return ret;
}

static int knob_write(PaiovdKnob *k, const char *attr, const char *value)
{
    int pfd = paiov_sysfs_power_dir(k->device_dir);
    int ret = pfd;

    if (pfd >= 0) {
        ret = paiov_sysfs_write(pfd, attr, value);
        close(pfd);
    }
    k->writes++;
    if (ret < 0) {
        k->failures++;
        g_free(k->error);
        k->error = g_strdup_printf("%s/power/%s: %s", k->device_dir, attr,
                                   ret == -EINVAL ? "not a regular file" :
                                   ret == -ELOOP ? "a symbolic link" :
                                   g_strerror(-ret));
        paiovd_log("knob %s: cannot write '%s': %s", k->name, value,
                   k->error);
    }
    return ret;
}

static char *journal_name(const PaiovdKnob *k)
{
    char *name = g_strconcat(JOURNAL_PREFIX, k->device_dir, NULL);

    g_strdelimit(name + strlen(JOURNAL_PREFIX), "/", '!');
    return name;
}

/*
 * Open (creating it 0700) the state directory and check that it is not a
 * link, is owned by the daemon's user and writable by nobody else.
 */
int paiovd_state_open(const char *dir, GError **errp)
{
    struct stat st;
    int fd;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "state-dir '%s': %s", dir, g_strerror(errno));
        return -1;
    }
    fd = paiov_sysfs_open_private_dir(AT_FDCWD, dir, &st);
    if (fd == -EPERM || fd == -EACCES) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "state-dir '%s' must be owned by the daemon's user "
                    "and writable by nobody else (uid %u, mode 0%o)",
                    dir, (unsigned)st.st_uid,
                    (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (fd < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(-fd),
                    "state-dir '%s': %s", dir,
                    fd == -ELOOP || fd == -ENOTDIR ?
                    "a symbolic link or not a directory" :
                    g_strerror(-fd));
        return -1;
    }
    return fd;
}

static int journal_write(PaiovdKnob *k, int state_fd)
{
    g_autofree char *name = journal_name(k);
    g_autofree char *tmp = g_strconcat(name, ".tmp", NULL);
    g_autofree char *text = g_strdup_printf("%s\n%s\n%s\n", k->device_dir,
                                            k->orig_control, k->orig_delay);
    size_t len = strlen(text);
    int fd, ret = 0;

    if (strlen(tmp) > NAME_MAX) {
        return -ENAMETOOLONG;
    }
    unlinkat(state_fd, tmp, 0);     /* left by a crash */
    fd = openat(state_fd, tmp, O_WRONLY | O_CREAT | O_EXCL |
                PAIOV_SYSFS_OPEN_FLAGS, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        ret = -EIO;
    }
    close(fd);
    if (!ret && renameat(state_fd, tmp, state_fd, name) < 0) {
        ret = -errno;
    }
    if (ret) {
        unlinkat(state_fd, tmp, 0);
    } else {
        fsync(state_fd);
    }
    return ret;
}

static void journal_remove(PaiovdKnob *k, int state_fd)
{
    g_autofree char *name = journal_name(k);

    if (unlinkat(state_fd, name, 0) < 0 && errno != ENOENT) {
        paiovd_log("knob %s: cannot remove journal entry %s: %s", k->name,
                   name, g_strerror(errno));
    }
    fsync(state_fd);
}

/* Put the originals back (delay first, as QEMU's backend does) */
void paiovd_knob_restore(PaiovdKnob *k, int state_fd)
{
    if (!k->saved) {
        return;
    }
    if (k->orig_delay[0]) {
        knob_write(k, "autosuspend_delay_ms", k->orig_delay);
    }
    if (knob_write(k, "control", k->orig_control) == 0) {
        paiovd_log("knob %s: restored control=%s delay=%s", k->name,
                   k->orig_control, k->orig_delay[0] ? k->orig_delay : "-");
    }
    /* restored as far as possible: a failure is logged, not retried */
    journal_remove(k, state_fd);
    k->saved = false;
    k->applied[0] = '\0';
    k->delay_written = false;
}

static bool knob_save(PaiovdKnob *k, int state_fd)
{
    int ret = paiovd_knob_read(k, "control", k->orig_control,
                               sizeof(k->orig_control));

    if (ret == 0 && strcmp(k->orig_control, "on") &&
        strcmp(k->orig_control, "auto")) {
        ret = -EINVAL;
    }
    if (ret < 0) {
        g_free(k->error);
        k->error = g_strdup_printf("%s/power/control: %s", k->device_dir,
                                   ret == -EINVAL ? "not a regular file "
                                   "holding on or auto" :
                                   ret == -ELOOP ? "a symbolic link" :
                                   g_strerror(-ret));
        k->failures++;
        paiovd_log("knob %s: refused: %s", k->name, k->error);
        return false;
    }
    if (paiovd_knob_read(k, "autosuspend_delay_ms", k->orig_delay,
                         sizeof(k->orig_delay)) < 0 ||
        !k->orig_delay[0] ||
        strspn(k->orig_delay, "-0123456789") != strlen(k->orig_delay)) {
        k->orig_delay[0] = '\0';
    }
    ret = journal_write(k, state_fd);
    if (ret < 0) {
        g_free(k->error);
        k->error = g_strdup_printf("cannot journal the original values: "
                                   "%s", g_strerror(-ret));
        k->failures++;
        paiovd_log("knob %s: %s; not changed", k->name, k->error);
        return false;
    }
    k->saved = true;
    return true;
}

void paiovd_knob_apply(PaiovdKnob *k, int state_fd, unsigned voters,
                       unsigned low, uint32_t delay_ms)
{
    const char *want;

    k->voters = voters;
    k->low = low;
    if (!voters) {
        paiovd_knob_restore(k, state_fd);
        return;
    }
    if (!k->saved && !knob_save(k, state_fd)) {
        return;
    }
    want = low == voters ? "auto" : "on";
    /* the delay first, as QEMU's backend does; only when it changes */
    if (!strcmp(want, "auto") && k->orig_delay[0] &&
        (!k->delay_written || k->written_delay != delay_ms)) {
        g_autofree char *d = g_strdup_printf("%u", delay_ms);

        if (knob_write(k, "autosuspend_delay_ms", d) == 0) {
            k->delay_written = true;
            k->written_delay = delay_ms;
        }
    }
    if (!strcmp(k->applied, want)) {
        return;
    }
    if (knob_write(k, "control", want) == 0) {
        paiovd_log("knob %s: control=%s (%u of %u votes low)", k->name, want,
                   low, voters);
        g_strlcpy(k->applied, want, sizeof(k->applied));
        g_clear_pointer(&k->error, g_free);
    }
}

/* One journal entry: restore it when its path is a configured knob */
static void journal_recover_one(PaiovdConfig *cfg, int state_fd,
                                const char *name)
{
    char buf[PAIOVD_JOURNAL_MAX];
    g_auto(GStrv) lines = NULL;
    int fd = paiov_sysfs_openat(state_fd, name, O_RDONLY, 0);
    unsigned i;
    int ret;

    if (fd < 0) {
        paiovd_log("journal: %s: %s; ignored", name,
                   fd == -EINVAL || fd == -ELOOP ? "not a regular file" :
                   g_strerror(-fd));
        return;
    }
    ret = paiov_sysfs_pread(fd, buf, sizeof(buf));
    close(fd);
    if (ret < 0) {
        paiovd_log("journal: %s: %s", name, g_strerror(-ret));
        return;
    }
    lines = g_strsplit(buf, "\n", 4);
    if (g_strv_length(lines) < 2 || (strcmp(lines[1], "on") &&
                                     strcmp(lines[1], "auto"))) {
        paiovd_log("journal: %s: malformed; ignored", name);
        return;
    }
    for (i = 0; i < cfg->knobs->len; i++) {
        PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);
        g_autofree char *expect = journal_name(k);

        if (!strcmp(k->device_dir, lines[0]) && !strcmp(expect, name)) {
            g_strlcpy(k->orig_control, lines[1], sizeof(k->orig_control));
            g_strlcpy(k->orig_delay, lines[2] ? lines[2] : "",
                      sizeof(k->orig_delay));
            if (strspn(k->orig_delay, "-0123456789") !=
                strlen(k->orig_delay)) {
                k->orig_delay[0] = '\0';
            }
            k->saved = true;
            paiovd_log("journal: knob %s was left changed by a previous "
                       "run; restoring", k->name);
            paiovd_knob_restore(k, state_fd);
            return;
        }
    }
    paiovd_log("journal: %s names '%s', which is no configured knob; "
               "left alone", name, lines[0]);
}

void paiovd_journal_recover(PaiovdConfig *cfg, int state_fd)
{
    int fd = dup(state_fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    unsigned i, seen = 0;

    if (!dir) {
        paiovd_log("journal: %s", g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        g_ptr_array_free(names, TRUE);
        return;
    }
    while ((de = readdir(dir)) && ++seen <= 4096) {
        if (g_str_has_prefix(de->d_name, JOURNAL_PREFIX) &&
            !g_str_has_suffix(de->d_name, ".tmp")) {
            g_ptr_array_add(names, g_strdup(de->d_name));
        }
    }
    closedir(dir);
    for (i = 0; i < names->len; i++) {
        journal_recover_one(cfg, state_fd, g_ptr_array_index(names, i));
    }
    g_ptr_array_free(names, TRUE);
}
