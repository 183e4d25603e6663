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
 * QEMU often runs as root, so nothing in there is trusted blindly: RUNDIR
 * and KNOB must be directories (not links) owned by QEMU's effective user
 * and writable by nobody else; every file is opened relative to the
 * checked directory with O_NOFOLLOW | O_NONBLOCK and must be a regular
 * file (no FIFO, device or link); votes are created with O_EXCL, "orig"
 * through a temporary created with O_EXCL and renamed; reads are bounded;
 * the lock is waited for at most PAIOV_RPM_LOCK_WAIT_US.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "paiov/paiov-rpm.h"
#include "paiov/paiov-sysfs.h"
#include "trace.h"

#include <sys/file.h>

/* The longest the BQL may wait for another process's knob lock */
#define PAIOV_RPM_LOCK_WAIT_US  (100 * 1000)

/* Entries of a knob's state directory looked at; more: the knob stays on */
#define PAIOV_RPM_MAX_ENTRIES   1024

/* Tries at a fresh vote file name */
#define PAIOV_RPM_VOTE_TRIES    16

/* Every state file and sysfs attribute read fits in this */
#define PAIOV_RPM_BUF           64

/* A vote is one fixed-size record, rewritten in place: "low 2000", "on" */
#define PAIOV_RPM_VOTE_LEN      16

struct PaiovRpmKnob {
    char *device;           /* resolved device directory */
    char *statedir;         /* RUNDIR/KNOB, for messages */
    int power_fd;           /* DEVICE/power, opened without following links */
    int state_fd;           /* RUNDIR/KNOB, checked */
    int lock_fd;            /* RUNDIR/KNOB/lock */
    int vote_fd;            /* our vote, flock'ed while we live */
    char *vote_name;        /* its name in RUNDIR/KNOB */
    char control[16];
};

/* The values found before the first write */
typedef struct RpmOrig {
    char control[16];
    char delay[24];         /* "": unreadable, neither written nor restored */
} RpmOrig;

static int knob_counter;

/* Read a small attribute below power/, without its trailing newline */
static int rpm_read(PaiovRpmKnob *k, const char *attr, char *buf, size_t len)
{
    return paiov_sysfs_read(k->power_fd, attr, buf, len);
}

static int rpm_write(PaiovRpmKnob *k, const char *attr, const char *value)
{
    int ret = paiov_sysfs_write(k->power_fd, attr, value);

    trace_paiov_rpm_write(k->device, attr, value, ret);
    return ret;
}

/*
 * Set control, and the delay before it when given.  A delay that cannot
 * be written (EIO on a device whose driver does not use autosuspend) is
 * traced and does not keep control from being written.
 */
static int rpm_apply(PaiovRpmKnob *k, const char *control, const char *delay,
                     Error **errp)
{
    int ret;

    if (delay && *delay) {
        rpm_write(k, "autosuspend_delay_ms", delay);
    }
    ret = rpm_write(k, "control", control);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s/power/control", k->device);
        return ret;
    }
    pstrcpy(k->control, sizeof(k->control), control);
    return 0;
}

static void rpm_state_error(PaiovRpmKnob *k, const char *name, int err,
                            Error **errp)
{
    if (err == -EINVAL || err == -ELOOP) {
        error_setg(errp, "runtime-dir: %s/%s is not a regular file",
                   k->statedir, name);
    } else {
        error_setg_errno(errp, -err, "runtime-dir: %s/%s", k->statedir,
                         name);
    }
}

/* Is @name "vote.PID.N", both decimal numbers of at most 10 digits? */
static bool rpm_vote_name(const char *name)
{
    const char *p = name + strlen("vote.");
    int part;

    if (!g_str_has_prefix(name, "vote.")) {
        return false;
    }
    for (part = 0; part < 2; part++) {
        size_t digits = strspn(p, "0123456789");

        if (!digits || digits > 10 || p[digits] != (part ? '\0' : '.')) {
            return false;
        }
        p += digits + 1;
    }
    return true;
}

/* Parse a vote; anything but a well-formed "low N" counts as on */
static bool rpm_vote_low(const char *vote, uint64_t *delay)
{
    uint64_t d;

    if (!g_str_has_prefix(vote, "low ") ||
        qemu_strtou64(vote + 4, NULL, 10, &d) < 0 || d > UINT32_MAX) {
        return false;
    }
    *delay = d;
    return true;
}

/*
 * Read the recorded original values.  Returns 1 when found, 0 when there
 * are none (no user changed the knob yet), -errno with @errp set when the
 * file is not one we wrote (not a regular file, malformed).
 */
static int rpm_orig_read(PaiovRpmKnob *k, RpmOrig *orig, Error **errp)
{
    char buf[PAIOV_RPM_BUF];
    char *nl;
    int64_t delay;
    int fd = paiov_sysfs_openat(k->state_fd, "orig", O_RDONLY, 0);
    int ret;

    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        rpm_state_error(k, "orig", fd, errp);
        return fd;
    }
    ret = paiov_sysfs_pread(fd, buf, sizeof(buf));
    close(fd);
    if (ret < 0) {
        rpm_state_error(k, "orig", ret, errp);
        return ret;
    }
    nl = strchr(buf, '\n');
    if (nl) {
        *nl++ = '\0';
    }
    if ((strcmp(buf, "on") && strcmp(buf, "auto")) ||
        (nl && *nl && qemu_strtoi64(nl, NULL, 10, &delay) < 0)) {
        error_setg(errp, "runtime-dir: %s/orig: not original values",
                   k->statedir);
        return -EINVAL;
    }
    pstrcpy(orig->control, sizeof(orig->control), buf);
    pstrcpy(orig->delay, sizeof(orig->delay), nl ? nl : "");
    return 1;
}

/* Record the original values: a temporary created with O_EXCL, renamed */
static int rpm_orig_write(PaiovRpmKnob *k, const RpmOrig *orig, Error **errp)
{
    g_autofree char *text = g_strdup_printf("%s\n%s\n", orig->control,
                                            orig->delay);
    size_t len = strlen(text);
    int fd, ret = 0;

    unlinkat(k->state_fd, "orig.tmp", 0);   /* left by a crash */
    fd = openat(k->state_fd, "orig.tmp", O_WRONLY | O_CREAT | O_EXCL |
                PAIOV_SYSFS_OPEN_FLAGS, 0600);
    if (fd < 0) {
        ret = -errno;
    } else {
        if (write(fd, text, len) != (ssize_t)len) {
            ret = -EIO;
        }
        close(fd);
        if (!ret && renameat(k->state_fd, "orig.tmp", k->state_fd,
                             "orig") < 0) {
            ret = -errno;
        }
        if (ret) {
            unlinkat(k->state_fd, "orig.tmp", 0);
        }
    }
    if (ret) {
        error_setg_errno(errp, -ret, "runtime-dir: cannot record the "
                         "original values of %s in %s/orig", k->device,
                         k->statedir);
    }
    return ret;
}

/*
 * Look at one entry of the state directory that is named like a vote.
 * Returns 1 and sets *low (and *delay) for a live vote, 0 for a dead one
 * (removed), -errno with @errp set when it is not a regular file.
 */
static int rpm_scan_vote(PaiovRpmKnob *k, const char *name, bool *low,
                         uint64_t *delay, Error **errp)
{
    char vote[PAIOV_RPM_BUF];
    struct stat st;
    int fd, ret;

    if (k->vote_name && !strcmp(name, k->vote_name)) {
        fd = k->vote_fd;
    } else {
        /* no open(2) at all of what is not a regular file */
        if (fstatat(k->state_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) {
                return 0;
            }
            ret = -errno;
        } else {
            ret = S_ISREG(st.st_mode) ? 0 : -EINVAL;
        }
        if (ret < 0) {
            rpm_state_error(k, name, ret, errp);
            return ret;
        }
        fd = paiov_sysfs_openat(k->state_fd, name, O_RDONLY, 0);
        if (fd == -ENOENT) {
            return 0;
        }
        if (fd < 0) {
            rpm_state_error(k, name, fd, errp);
            return fd;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* nobody holds it: its owner died */
            trace_paiov_rpm_stale_vote(k->device, name);
            unlinkat(k->state_fd, name, 0);
            close(fd);
            return 0;
        }
    }
    ret = paiov_sysfs_pread(fd, vote, sizeof(vote));
    if (fd != k->vote_fd) {
        close(fd);
    }
    if (ret < 0) {
        vote[0] = '\0';     /* counts as on */
    }
    *low = rpm_vote_low(vote, delay);
    return 1;
}

/*
 * Count the live votes (removing those of dead users) and apply their
 * result; with no vote left, restore the original values.  Called with the
 * knob's lock held.
 */
static int rpm_recompute(PaiovRpmKnob *k, Error **errp)
{
    DIR *dir;
    struct dirent *de;
    unsigned entries = 0, live = 0, low = 0;
    uint64_t delay = 0;
    RpmOrig orig;
    int fd, ret;

    fd = dup(k->state_fd);
    dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) {
        ret = -errno;
        if (fd >= 0) {
            close(fd);
        }
        error_setg_errno(errp, -ret, "runtime-dir: %s", k->statedir);
        return ret;
    }
    rewinddir(dir);
    while ((de = readdir(dir))) {
        uint64_t d = 0;
        bool l = false;

        if (++entries > PAIOV_RPM_MAX_ENTRIES) {
            /* a vote may be among those not looked at: stay on */
            trace_paiov_rpm_scan_truncated(k->device, PAIOV_RPM_MAX_ENTRIES);
            live++;
            break;
        }
        if (!rpm_vote_name(de->d_name)) {
            continue;
        }
        ret = rpm_scan_vote(k, de->d_name, &l, &d, errp);
        if (ret < 0) {
            closedir(dir);
            return ret;
        }
        if (ret) {
            live++;
            if (l) {
                low++;
                delay = MAX(delay, d);
            }
        }
    }
    closedir(dir);

    ret = rpm_orig_read(k, &orig, errp);
    if (ret < 0) {
        return ret;
    }
    if (!live) {
        if (ret) {
            ret = rpm_apply(k, orig.control, orig.delay, errp);
            trace_paiov_rpm_restore(k->device, orig.control, ret);
            unlinkat(k->state_fd, "orig", 0);
        }
        return ret;
    }

    if (!ret) {
        ret = rpm_read(k, "control", orig.control, sizeof(orig.control));
        if (ret < 0) {
            error_setg_errno(errp, -ret, "%s/power/control", k->device);
            return ret;
        }
        /* unreadable (EIO unless the driver uses autosuspend): absent */
        if (rpm_read(k, "autosuspend_delay_ms", orig.delay,
                     sizeof(orig.delay)) < 0) {
            orig.delay[0] = '\0';
        }
        ret = rpm_orig_write(k, &orig, errp);
        if (ret < 0) {
            return ret;
        }
    }

    if (low == live) {
        g_autofree char *d = g_strdup_printf("%" PRIu64, delay);

        /* a delay that could not be read is not changed: no way back */
        return rpm_apply(k, "auto", orig.delay[0] ? d : NULL, errp);
    }
    return rpm_apply(k, "on", NULL, errp);
}

/*
 * Take the knob's lock, waiting at most PAIOV_RPM_LOCK_WAIT_US: this runs
 * under the BQL, and the holder is another process that may be stuck.
 */
static bool rpm_lock(PaiovRpmKnob *k, Error **errp)
{
    gint64 start = g_get_monotonic_time();
    gint64 waited = 0;
    unsigned long step = 500;

    while (flock(k->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            error_setg_errno(errp, errno, "runtime-dir: cannot lock %s/lock",
                             k->statedir);
            return false;
        }
        waited = g_get_monotonic_time() - start;
        if (waited >= PAIOV_RPM_LOCK_WAIT_US) {
            trace_paiov_rpm_lock_busy(k->device, waited);
            error_setg(errp, "runtime-dir: %s/lock held by another process "
                       "for %" PRId64 " ms, not applied", k->statedir,
                       waited / 1000);
            return false;
        }
        g_usleep(MIN(step, PAIOV_RPM_LOCK_WAIT_US - waited));
        step = MIN(step * 2, 10 * 1000);
    }
    return true;
}

static void rpm_unlock(PaiovRpmKnob *k)
{
    flock(k->lock_fd, LOCK_UN);
}

/*
 * Open (creating it 0700 if missing) the directory @name in @dirfd,
 * without following a link, and check that only we can write to it.
 */
static int rpm_open_dir(int dirfd, const char *name, const char *path,
                        Error **errp)
{
    struct stat st;
    int fd;

    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST) {
        error_setg_errno(errp, errno, "runtime-dir: cannot create '%s'",
                         path);
        return -1;
    }
    fd = paiov_sysfs_open_private_dir(dirfd, name, &st);
    if (fd == -ELOOP) {
        error_setg(errp, "runtime-dir: '%s' is a symbolic link", path);
    } else if (fd == -EPERM) {
        error_setg(errp, "runtime-dir: '%s' is owned by uid %u, not by "
                   "QEMU's user (uid %u)", path, (unsigned)st.st_uid,
                   (unsigned)geteuid());
    } else if (fd == -EACCES) {
        error_setg(errp, "runtime-dir: '%s' is writable by group or others "
                   "(mode 0%o); it must be writable by QEMU's user only",
                   path, (unsigned)(st.st_mode & 07777));
    } else if (fd < 0) {
        error_setg_errno(errp, -fd, "runtime-dir: '%s'", path);
    }
    return fd < 0 ? -1 : fd;
}

/* Open and check RUNDIR and RUNDIR/KNOB; the state dir's fd or -1 */
static int rpm_open_statedir(const char *rundir, const char *knob,
                             const char *statedir, Error **errp)
{
    g_autofree char *parent = g_path_get_dirname(rundir);
    g_autofree char *base = g_path_get_basename(rundir);
    int parent_fd, run_fd, fd;

    if (!*rundir || !strcmp(base, "/") || !strcmp(base, ".") ||
        !strcmp(base, "..")) {
        error_setg(errp, "runtime-dir '%s' must name a directory", rundir);
        return -1;
    }
    /* the parents are the administrator's choice: created if missing */
    parent_fd = g_mkdir_with_parents(parent, 0700) < 0 ? -1 :
                open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0) {
        error_setg_errno(errp, errno, "runtime-dir '%s'", rundir);
        return -1;
    }
    run_fd = rpm_open_dir(parent_fd, base, rundir, errp);
    close(parent_fd);
    if (run_fd < 0) {
        return -1;
    }
    fd = rpm_open_dir(run_fd, knob, statedir, errp);
    close(run_fd);
    return fd;
}

static PaiovRpmKnob *rpm_fail(PaiovRpmKnob *k)
{
    if (k->power_fd >= 0) {
        close(k->power_fd);
    }
    if (k->state_fd >= 0) {
        close(k->state_fd);
    }
    if (k->lock_fd >= 0) {
        close(k->lock_fd);
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
    g_autofree char *name = NULL;
    struct stat st;
    int ret;

    k->power_fd = -1;
    k->state_fd = -1;
    k->lock_fd = -1;
    k->vote_fd = -1;
    if (!root_real) {
        error_setg_errno(errp, errno, "sysfs-root '%s'", root);
        return rpm_fail(k);
    }
    ret = paiov_sysfs_resolve(root_real, path, &k->device);
    if (ret == -EXDEV) {
        error_setg(errp, "%s '%s' resolves to '%s', outside sysfs-root '%s'",
                   prop, path, k->device, root_real);
        return rpm_fail(k);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s '%s'", prop, path);
        return rpm_fail(k);
    }
    k->power_fd = paiov_sysfs_power_dir(k->device);
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
    k->state_fd = rpm_open_statedir(rundir, name, k->statedir, errp);
    if (k->state_fd < 0) {
        return rpm_fail(k);
    }
    k->lock_fd = paiov_sysfs_openat(k->state_fd, "lock", O_RDWR | O_CREAT, 0600);
    if (k->lock_fd < 0) {
        rpm_state_error(k, "lock", k->lock_fd, errp);
        return rpm_fail(k);
    }
    rpm_read(k, "control", k->control, sizeof(k->control));
    trace_paiov_rpm_open(k->device, k->statedir);
    return k;
}

/* Create our vote file (with the lock held): a fresh name, O_EXCL */
static int rpm_vote_create(PaiovRpmKnob *k, Error **errp)
{
    int tries, fd = -EEXIST;

    for (tries = 0; tries < PAIOV_RPM_VOTE_TRIES && fd == -EEXIST; tries++) {
        g_free(k->vote_name);
        k->vote_name = g_strdup_printf("vote.%d.%d", (int)getpid(),
                                       knob_counter++);
        fd = paiov_sysfs_openat(k->state_fd, k->vote_name,
                        O_RDWR | O_CREAT | O_EXCL, 0600);
    }
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = -errno;

        close(fd);
        unlinkat(k->state_fd, k->vote_name, 0);
        fd = err;
    }
    if (fd < 0) {
        error_setg_errno(errp, -fd, "runtime-dir: cannot create %s/%s",
                         k->statedir, k->vote_name);
        g_free(k->vote_name);
        k->vote_name = NULL;
        return fd;
    }
    k->vote_fd = fd;
    return 0;
}

int paiov_rpm_vote(PaiovRpmKnob *k, bool low, uint32_t delay_ms,
                   Error **errp)
{
    g_autofree char *v = low ? g_strdup_printf("low %u", delay_ms)
                             : g_strdup("on");
    char vote[PAIOV_RPM_VOTE_LEN + 1];
    bool locked;
    int ret;

    snprintf(vote, sizeof(vote), "%-*s\n", PAIOV_RPM_VOTE_LEN - 1, v);
    trace_paiov_rpm_vote(k->device, low ? "low" : "on");

    locked = rpm_lock(k, errp);
    if (!locked && k->vote_fd < 0) {
        return -EWOULDBLOCK;
    }
    if (k->vote_fd < 0) {
        ret = rpm_vote_create(k, errp);
        if (ret < 0) {
            rpm_unlock(k);
            return ret;
        }
    }
    /* one record of fixed size rewritten in place: no truncation */
    if (pwrite(k->vote_fd, vote, PAIOV_RPM_VOTE_LEN, 0) !=
        PAIOV_RPM_VOTE_LEN) {
        ret = -EIO;
        if (locked) {
            error_setg_errno(errp, errno, "runtime-dir: cannot write %s/%s",
                             k->statedir, k->vote_name);
            rpm_unlock(k);
        }
        return ret;
    }
    if (!locked) {
        /* recorded: the next user that takes the lock applies it */
        return -EWOULDBLOCK;
    }
    ret = rpm_recompute(k, errp);
    rpm_unlock(k);
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

    if (!k) {
        return;
    }
    if (k->vote_name) {
        bool locked = rpm_lock(k, &err);

        /* our own vote goes in any case; with no lock the next user looks */
        unlinkat(k->state_fd, k->vote_name, 0);
        close(k->vote_fd);
        g_free(k->vote_name);
        k->vote_name = NULL;
        if (locked) {
            rpm_recompute(k, &err);
            rpm_unlock(k);
        }
        if (err) {
            trace_paiov_rpm_close_failed(k->device, error_get_pretty(err));
            error_free(err);
        }
    }
    close(k->power_fd);
    close(k->state_fd);
    close(k->lock_fd);
    g_free(k->device);
    g_free(k->statedir);
    g_free(k);
}
