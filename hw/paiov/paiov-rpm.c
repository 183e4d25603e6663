/*
 * PAIOV: runtime-PM sysfs knobs of host devices, shared between VMs
 *
 * See include/paiov/paiov-rpm.h for the voting scheme.  Layout of the
 * runtime directory, per knob (the device's resolved path, '/' -> '!'):
 *
 *   RUNDIR/KNOB/lock          flock(LOCK_EX) around every change
 *   RUNDIR/KNOB/orig          "control\ndelay\n" found before the first write
 *   RUNDIR/KNOB/vote.PID.N    "low DELAY" or "on", flock'ed by its owner
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "paiov/paiov-rpm.h"
#include "trace.h"

#include <sys/file.h>

struct PaiovRpmKnob {
    char *device;           /* resolved device directory */
    char *statedir;         /* RUNDIR/KNOB */
    char *vote_path;
    int power_fd;           /* DEVICE/power, opened without following links */
    int vote_fd;            /* our vote, flock'ed while we live */
    char control[16];
};

static int knob_counter;

/* Read a small attribute below power/, without its trailing newline */
static int rpm_read(PaiovRpmKnob *k, const char *attr, char *buf, size_t len)
{
    int fd = openat(k->power_fd, attr, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        return -errno;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) {
        return -errno;
    }
    buf[n] = '\0';
    g_strchomp(buf);
    return 0;
}

static int rpm_write(PaiovRpmKnob *k, const char *attr, const char *value)
{
    int fd = openat(k->power_fd, attr,
                    O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    size_t len = strlen(value);
    ssize_t n;
    int ret = 0;

    if (fd < 0) {
        ret = -errno;
    } else {
        n = write(fd, value, len);
        if (n < 0) {
            ret = -errno;
        } else if ((size_t)n != len) {
            ret = -EIO;
        }
        close(fd);
    }
    trace_paiov_rpm_write(k->device, attr, value, ret);
    return ret;
}

/* Set control (and the delay before it, when given) */
static int rpm_apply(PaiovRpmKnob *k, const char *control, const char *delay,
                     Error **errp)
{
    int ret;

    if (delay && *delay) {
        ret = rpm_write(k, "autosuspend_delay_ms", delay);
        if (ret < 0 && ret != -ENOENT) {
            error_setg_errno(errp, -ret, "%s/power/autosuspend_delay_ms",
                             k->device);
            return ret;
        }
    }
    ret = rpm_write(k, "control", control);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s/power/control", k->device);
        return ret;
    }
    pstrcpy(k->control, sizeof(k->control), control);
    return 0;
}

static char *rpm_state_file(PaiovRpmKnob *k, const char *name)
{
    return g_build_filename(k->statedir, name, NULL);
}

/*
 * Count the live votes (removing those of dead users) and apply their
 * result; with no vote left, restore the original values.  Called with the
 * knob's lock held.
 */
static int rpm_recompute(PaiovRpmKnob *k, Error **errp)
{
    g_autofree char *orig_path = rpm_state_file(k, "orig");
    g_autofree char *orig = NULL;
    GDir *dir = g_dir_open(k->statedir, 0, NULL);
    const char *name;
    unsigned live = 0, low = 0;
    uint64_t delay = 0;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *vote = NULL;
        int fd;

        if (!g_str_has_prefix(name, "vote.")) {
            continue;
        }
        path = rpm_state_file(k, name);
        if (k->vote_path && !strcmp(path, k->vote_path)) {
            fd = -1;
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                /* nobody holds it: its owner died */
                trace_paiov_rpm_stale_vote(k->device, name);
                unlink(path);
                close(fd);
                continue;
            }
            close(fd);
        }
        if (!g_file_get_contents(path, &vote, NULL, NULL)) {
            continue;
        }
        live++;
        if (g_str_has_prefix(vote, "low")) {
            low++;
            delay = MAX(delay, g_ascii_strtoull(vote + 3, NULL, 10));
        }
    }
    if (dir) {
        g_dir_close(dir);
    }

    g_file_get_contents(orig_path, &orig, NULL, NULL);
    if (!live) {
        int ret = 0;

        if (orig) {
            g_auto(GStrv) v = g_strsplit(orig, "\n", 3);

            ret = rpm_apply(k, v[0] ? v[0] : "on", v[0] ? v[1] : NULL,
                            errp);
            trace_paiov_rpm_restore(k->device, v[0] ? v[0] : "on", ret);
            unlink(orig_path);
        }
        return ret;
    }

    if (!orig) {
        char control[16] = "", d[32] = "";
        int ret = rpm_read(k, "control", control, sizeof(control));

        if (ret < 0) {
            error_setg_errno(errp, -ret, "%s/power/control", k->device);
            return ret;
        }
        rpm_read(k, "autosuspend_delay_ms", d, sizeof(d));
        orig = g_strdup_printf("%s\n%s\n", control, d);
        if (!g_file_set_contents(orig_path, orig, -1, NULL)) {
            error_setg(errp, "cannot record the original values of %s in %s",
                       k->device, orig_path);
            return -EIO;
        }
    }

    if (low == live) {
        g_autofree char *d = g_strdup_printf("%" PRIu64, delay);

        return rpm_apply(k, "auto", d, errp);
    }
    return rpm_apply(k, "on", NULL, errp);
}

static int rpm_lock(PaiovRpmKnob *k)
{
    g_autofree char *path = rpm_state_file(k, "lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void rpm_unlock(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

static PaiovRpmKnob *rpm_fail(PaiovRpmKnob *k)
{
    if (k->power_fd >= 0) {
        close(k->power_fd);
    }
    g_free(k->device);
    g_free(k->statedir);
    g_free(k);
    return NULL;
}

PaiovRpmKnob *paiov_rpm_open(const char *root, const char *path,
                             const char *rundir, const char *prop,
                             Error **errp)
{
    PaiovRpmKnob *k = g_new0(PaiovRpmKnob, 1);
    g_autofree char *root_real = realpath(root, NULL);
    g_autofree char *full = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *name = NULL;
    struct stat st;
    int dev_fd;

    k->power_fd = -1;
    k->vote_fd = -1;
    if (!root_real) {
        error_setg_errno(errp, errno, "sysfs-root '%s'", root);
        return rpm_fail(k);
    }
    full = path[0] == '/' ? g_strdup(path)
                          : g_build_filename(root_real, path, NULL);
    k->device = realpath(full, NULL);
    if (!k->device) {
        error_setg_errno(errp, errno, "%s '%s'", prop, path);
        return rpm_fail(k);
    }
    prefix = g_strconcat(root_real, strcmp(root_real, "/") ? "/" : "", NULL);
    if (!g_str_has_prefix(k->device, prefix)) {
        error_setg(errp, "%s '%s' resolves to '%s', outside sysfs-root '%s'",
                   prop, path, k->device, root_real);
        return rpm_fail(k);
    }
    dev_fd = open(k->device, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dev_fd >= 0) {
        k->power_fd = openat(dev_fd, "power",
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dev_fd);
    }
    if (k->power_fd < 0 ||
        fstatat(k->power_fd, "control", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode)) {
        error_setg(errp, "%s '%s': '%s' has no power/control attribute "
                   "(not a device with runtime power management)",
                   prop, path, k->device);
        return rpm_fail(k);
    }

    name = g_strdelimit(g_strdup(k->device + 1), "/", '!');
    k->statedir = g_build_filename(rundir, name, NULL);
    if (g_mkdir_with_parents(k->statedir, 0700) < 0) {
        error_setg_errno(errp, errno, "runtime-dir '%s'", rundir);
        return rpm_fail(k);
    }
    rpm_read(k, "control", k->control, sizeof(k->control));
    trace_paiov_rpm_open(k->device, k->statedir);
    return k;
}

int paiov_rpm_vote(PaiovRpmKnob *k, bool low, uint32_t delay_ms,
                   Error **errp)
{
    g_autofree char *vote = low ? g_strdup_printf("low %u\n", delay_ms)
                                : g_strdup("on\n");
    int lock = rpm_lock(k);
    int ret;

    if (lock < 0) {
        error_setg_errno(errp, errno, "cannot lock %s", k->statedir);
        return -errno;
    }
    if (k->vote_fd < 0) {
        k->vote_path = g_strdup_printf("%s/vote.%d.%d", k->statedir,
                                       (int)getpid(), knob_counter++);
        k->vote_fd = open(k->vote_path, O_RDWR | O_CREAT | O_TRUNC |
                          O_CLOEXEC, 0600);
        if (k->vote_fd < 0 || flock(k->vote_fd, LOCK_EX) < 0) {
            error_setg_errno(errp, errno, "cannot create %s", k->vote_path);
            rpm_unlock(lock);
            return -EIO;
        }
    }
    if (ftruncate(k->vote_fd, 0) < 0 ||
        pwrite(k->vote_fd, vote, strlen(vote), 0) < 0) {
        error_setg_errno(errp, errno, "cannot write %s", k->vote_path);
        rpm_unlock(lock);
        return -EIO;
    }
    trace_paiov_rpm_vote(k->device, low ? "low" : "on");
    ret = rpm_recompute(k, errp);
    rpm_unlock(lock);
    return ret;
}

const char *paiov_rpm_control(PaiovRpmKnob *k)
{
    return k->control;
}

const char *paiov_rpm_device(PaiovRpmKnob *k)
{
    return k->device;
}

void paiov_rpm_close(PaiovRpmKnob *k)
{
    Error *err = NULL;
    int lock;

    if (!k) {
        return;
    }
    lock = rpm_lock(k);
    if (k->vote_path) {
        unlink(k->vote_path);
        close(k->vote_fd);
        g_free(k->vote_path);
        k->vote_path = NULL;
        if (lock >= 0 && rpm_recompute(k, &err) < 0) {
            trace_paiov_rpm_close_failed(k->device, error_get_pretty(err));
            error_free(err);
        }
    }
    if (lock >= 0) {
        rpm_unlock(lock);
    }
    close(k->power_fd);
    g_free(k->device);
    g_free(k->statedir);
    g_free(k);
}
