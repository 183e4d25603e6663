/*
 * PAIOV: safe access to sysfs attributes and private state directories
 *
 * Shared by QEMU's runtime-PM backend (hw/paiov/paiov-rpm.c) and the host
 * coordinator paiovd (paiovd/knob.c, paiovd/config.c, paiovd/thermal.c),
 * so that both open, check, read and write a knob the same way.  GLib and
 * libc only: no QEMU header, paiovd builds it too.
 *
 * Nothing below a sysfs root is trusted blindly: an attribute is opened
 * relative to a directory opened beforehand, with O_NOFOLLOW | O_NONBLOCK,
 * and must be a regular file (a planted link or FIFO is refused, never
 * followed, never blocking); reads are bounded; a device path must
 * resolve below the root; a private directory must not be a link, must
 * be owned by the effective user and writable by nobody else.
 *
 * Every function returns a negative errno on failure: -EINVAL for "not a
 * regular file", -ELOOP (or -ENOTDIR) for a link where none may be,
 * -EXDEV for a path that resolves outside the root, -EPERM for a
 * directory of another owner, -EACCES for one writable by group/others.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_SYSFS_H
#define PAIOV_PAIOV_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Added to every open of a file: no link, no blocking (FIFO), no leak */
#define PAIOV_SYSFS_OPEN_FLAGS  (O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

/*
 * Open @name in @dirfd with @flags | PAIOV_SYSFS_OPEN_FLAGS (and @mode
 * with O_CREAT); the fd of a regular file, or -errno (-EINVAL when it
 * is not a regular file, -ELOOP when it is a link).
 */
int paiov_sysfs_openat(int dirfd, const char *name, int flags, mode_t mode);

/*
 * Read at most @len - 1 bytes of @fd from offset 0 into @buf, NUL
 * terminated and without trailing whitespace; 0 or -errno.
 */
int paiov_sysfs_pread(int fd, char *buf, size_t len);

/* paiov_sysfs_openat() of @attr in @dirfd, then paiov_sysfs_pread() */
int paiov_sysfs_read(int dirfd, const char *attr, char *buf, size_t len);

/*
 * Write @value to @attr in @dirfd (opened O_WRONLY | O_TRUNC through
 * paiov_sysfs_openat()); 0, -errno, or -EIO for a short write.
 */
int paiov_sysfs_write(int dirfd, const char *attr, const char *value);

/*
 * Open @device (a resolved device directory) and its power/ directory,
 * the latter without following a link; the fd of power/ or -errno.
 */
int paiov_sysfs_power_dir(const char *device);

/*
 * Resolve @path, absolute or relative to @root_real (a path realpath()
 * returned), after every link.  Returns 0 with *@resolved set; -errno
 * with *@resolved NULL when it does not resolve; -EXDEV with *@resolved
 * set (for the message) when it resolves outside @root_real.
 */
int paiov_sysfs_resolve(const char *root_real, const char *path,
                        char **resolved);

/*
 * Open the directory @name in @dirfd without following a link and check
 * it: owned by the effective user, not writable by group or others.
 * Returns its fd, or -errno (-ELOOP/-ENOTDIR: a link or not a
 * directory; -EPERM: another owner; -EACCES: writable by others); @st,
 * when given, holds what fstat() found for the message.
 */
int paiov_sysfs_open_private_dir(int dirfd, const char *name,
                                 struct stat *st);

#endif /* PAIOV_PAIOV_SYSFS_H */
