/*
 * PAIOV: safe access to sysfs attributes and private state directories
 *
 * See include/paiov/paiov-sysfs.h.  Compiled into QEMU (hw/paiov) and
 * into paiovd (paiovd/meson.build): GLib and libc only.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paiov/paiov-sysfs.h"

int paiov_sysfs_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    struct stat st;
    int fd = openat(dirfd, name, flags | PAIOV_SYSFS_OPEN_FLAGS, mode);

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

int paiov_sysfs_pread(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);

    if (n < 0) {
        return -errno;
    }
    buf[n] = '\0';
    g_strchomp(buf);
    return 0;
}

int paiov_sysfs_read(int dirfd, const char *attr, char *buf, size_t len)
{
    int fd = paiov_sysfs_openat(dirfd, attr, O_RDONLY, 0);
    int ret;

    if (fd < 0) {
        return fd;
    }
    ret = paiov_sysfs_pread(fd, buf, len);
    close(fd);
    return ret;
}

int paiov_sysfs_write(int dirfd, const char *attr, const char *value)
{
    int fd = paiov_sysfs_openat(dirfd, attr, O_WRONLY | O_TRUNC, 0);
    size_t len = strlen(value);
    ssize_t n;
    int ret;

    if (fd < 0) {
        return fd;
    }
    n = write(fd, value, len);
    ret = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
    close(fd);
    return ret;
}

int paiov_sysfs_power_dir(const char *device)
{
    int dfd = open(device, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int pfd;

    if (dfd < 0) {
        return -errno;
    }
    pfd = openat(dfd, "power", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                 O_CLOEXEC);
    if (pfd < 0) {
        pfd = -errno;
    }
    close(dfd);
    return pfd;
}

int paiov_sysfs_resolve(const char *root_real, const char *path,
                        char **resolved)
{
    g_autofree char *full = g_path_is_absolute(path) ? g_strdup(path) :
        g_build_filename(root_real, path, NULL);
    g_autofree char *prefix = g_strconcat(root_real,
        g_str_has_suffix(root_real, "/") ? "" : "/", NULL);

    *resolved = realpath(full, NULL);
    if (!*resolved) {
        return -errno;
    }
    return g_str_has_prefix(*resolved, prefix) ? 0 : -EXDEV;
}

int paiov_sysfs_open_private_dir(int dirfd, const char *name,
                                 struct stat *st)
{
    struct stat local;
    int fd, err;

    if (!st) {
        st = &local;
    }
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st->st_mode)) {
            err = ELOOP;
        }
        return -err;
    }
    if (fstat(fd, st) < 0) {
        err = -errno;
    } else if (st->st_uid != geteuid()) {
        err = -EPERM;
    } else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        err = -EACCES;
    } else {
        return fd;
    }
    close(fd);
    return err;
}
