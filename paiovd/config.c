/*
 * paiovd: the configuration file (GKeyFile)
 *
 *   [paiovd]
 *   sysfs-root=/sys             where every knob path must resolve
 *   state-dir=/var/lib/paiov    journal of original knob values
 *   socket=/run/paiov/paiovd.sock   when not socket-activated
 *   max-peers=64
 *   poll-interval-s=10          query-paiov refresh of joined VMs
 *   handshake-timeout-s=10      a peer that does not finish the QMP
 *                               handshake in time is dropped
 *   reply-timeout-s=30          so is a VM that does not answer
 *   max-lines-per-s=2000        and a peer that sends more than this
 *   control-uids=               who may use the control commands,
 *                               besides root and the daemon's user
 *
 *   [knob NAME]
 *   path=bus/pci/devices/0000:00:1b.0   (relative to sysfs-root, or
 *                                        absolute below it)
 *   devices=snd0                QOM ids (or /machine/... paths) of the
 *                               paiov devices that vote on it
 *   vm-names=web1;web2          the VM must match every list given:
 *   vm-uuids=...                name, UUID, peer uid; at least one
 *   vm-uids=64055
 *
 * A path never comes from a VM: only this file names host devices.  The
 * file must be a regular file owned by root or the daemon's user and not
 * writable by group or others.  Errors name the file, the line and key.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "paiovd.h"
#include "paiov/paiov-sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAIN_GROUP "paiovd"
#define KNOB_PREFIX "knob "

/* The line of "[group]" or, with @key, of "key=" in it; 0 if not found */
static unsigned config_line(const char *data, const char *group,
                            const char *key)
{
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    bool in_group = false;
    unsigned i;

    for (i = 0; lines[i]; i++) {
        const char *l = lines[i];
        size_t kl;

        while (*l == ' ' || *l == '\t') {
            l++;
        }
        if (*l == '[') {
            const char *end = strchr(l, ']');

            in_group = end && (size_t)(end - l - 1) == strlen(group) &&
                       !strncmp(l + 1, group, end - l - 1);
            if (in_group && !key) {
                return i + 1;
            }
            continue;
        }
        if (!in_group || !key) {
            continue;
        }
        kl = strlen(key);
        if (!strncmp(l, key, kl)) {
            l += kl;
            while (*l == ' ' || *l == '\t') {
                l++;
            }
            if (*l == '=') {
                return i + 1;
            }
        }
    }
    return 0;
}

static void G_GNUC_PRINTF(6, 7)
config_error(GError **errp, const char *file, const char *data,
             const char *group, const char *key, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;
    unsigned line = config_line(data, group, key);

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s:%u: [%s] %s: %s", file, line, group, key, msg);
    } else {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s:%u: [%s]: %s", file, line, group, msg);
    }
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !g_ascii_isdigit(*s)) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(s, &end, 10);
    if (errno || *end || v > max) {
        return false;
    }
    *out = v;
    return true;
}

typedef struct Parse {
    const char *file;
    const char *data;
    GKeyFile *kf;
    GError **errp;
} Parse;

static bool get_uint(Parse *p, const char *group, const char *key,
                     unsigned min, unsigned max, unsigned *out)
{
    g_autofree char *v = g_key_file_get_value(p->kf, group, key, NULL);
    uint64_t n;

    if (!v) {
        return true;
    }
    g_strstrip(v);
    if (!parse_uint(v, max, &n) || n < min) {
        config_error(p->errp, p->file, p->data, group, key,
                     "'%s' is not a number from %u to %u", v, min, max);
        return false;
    }
    *out = n;
    return true;
}

/* A list of uids; *n = 0 and NULL when the key is absent */
static bool get_uids(Parse *p, const char *group, const char *key,
                     uid_t **out, gsize *n)
{
    gsize len, i;
    g_auto(GStrv) v = g_key_file_get_string_list(p->kf, group, key, &len,
                                                 NULL);

    *out = NULL;
    *n = 0;
    if (!v) {
        return true;
    }
    if (!len) {
        config_error(p->errp, p->file, p->data, group, key, "empty list");
        return false;
    }
    *out = g_new(uid_t, len);
    for (i = 0; i < len; i++) {
        uint64_t u;

        g_strstrip(v[i]);
        if (!parse_uint(v[i], (uid_t)-2, &u)) {
            config_error(p->errp, p->file, p->data, group, key,
                         "'%s' is not a uid", v[i]);
            g_clear_pointer(out, g_free);
            return false;
        }
        (*out)[i] = u;
    }
    *n = len;
    return true;
}

static bool get_list(Parse *p, const char *group, const char *key,
                     bool required, char ***out)
{
    gsize len, i;
    char **v = g_key_file_get_string_list(p->kf, group, key, &len, NULL);

    *out = NULL;
    if (!v) {
        if (required) {
            config_error(p->errp, p->file, p->data, group, NULL,
                         "missing key '%s'", key);
            return false;
        }
        return true;
    }
    for (i = 0; i < len; i++) {
        g_strstrip(v[i]);
        if (!*v[i] || strlen(v[i]) > 255) {
            config_error(p->errp, p->file, p->data, group, key,
                         "empty or overlong entry");
            g_strfreev(v);
            return false;
        }
    }
    if (!len) {
        config_error(p->errp, p->file, p->data, group, key, "empty list");
        g_strfreev(v);
        return false;
    }
    *out = v;
    return true;
}

static void knob_free(gpointer data)
{
    PaiovdKnob *k = data;

    g_free(k->name);
    g_free(k->path);
    g_free(k->device_dir);
    g_strfreev(k->devices);
    g_strfreev(k->names);
    g_strfreev(k->uuids);
    g_free(k->uids);
    g_free(k->error);
    g_free(k);
}

void paiovd_config_free(PaiovdConfig *cfg)
{
    if (!cfg) {
        return;
    }
    g_free(cfg->file);
    g_free(cfg->sysfs_root);
    g_free(cfg->state_dir);
    g_free(cfg->socket_path);
    g_free(cfg->control_uids);
    if (cfg->knobs) {
        g_ptr_array_free(cfg->knobs, TRUE);
    }
    g_free(cfg);
}

/* Resolve a knob's path below the sysfs root; it must have power/ */
static bool knob_resolve(Parse *p, PaiovdConfig *cfg, PaiovdKnob *k,
                         const char *group)
{
    g_autofree char *real = NULL;
    struct stat st;
    int ret = paiov_sysfs_resolve(cfg->sysfs_root, k->path, &real);

    if (!real) {
        g_autofree char *full = g_path_is_absolute(k->path) ?
            g_strdup(k->path) :
            g_build_filename(cfg->sysfs_root, k->path, NULL);

        config_error(p->errp, p->file, p->data, group, "path",
                     "'%s': %s", full, g_strerror(-ret));
        return false;
    }
    if (ret == -EXDEV) {
        config_error(p->errp, p->file, p->data, group, "path",
                     "'%s' resolves to '%s', outside sysfs-root '%s'",
                     k->path, real, cfg->sysfs_root);
        return false;
    }
    if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
        config_error(p->errp, p->file, p->data, group, "path",
                     "'%s' is not a directory", real);
        return false;
    }
    k->device_dir = g_steal_pointer(&real);
    return true;
}

static bool parse_knob(Parse *p, PaiovdConfig *cfg, const char *group)
{
    PaiovdKnob *k = g_new0(PaiovdKnob, 1);
    g_auto(GStrv) keys = g_key_file_get_keys(p->kf, group, NULL, NULL);
    static const char *const known[] = {
        "path", "devices", "vm-names", "vm-uuids", "vm-uids", NULL
    };
    unsigned i;

    k->name = g_strdup(group + strlen(KNOB_PREFIX));
    g_ptr_array_add(cfg->knobs, k);
    if (!*k->name) {
        config_error(p->errp, p->file, p->data, group, NULL,
                     "a knob needs a name: [knob NAME]");
        return false;
    }
    for (i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(known, keys[i])) {
            config_error(p->errp, p->file, p->data, group, keys[i],
                         "unknown key");
            return false;
        }
    }
    k->path = g_key_file_get_string(p->kf, group, "path", NULL);
    if (!k->path || !*g_strstrip(k->path)) {
        config_error(p->errp, p->file, p->data, group, NULL,
                     "missing key 'path'");
        return false;
    }
    if (!get_list(p, group, "devices", true, &k->devices) ||
        !get_list(p, group, "vm-names", false, &k->names) ||
        !get_list(p, group, "vm-uuids", false, &k->uuids) ||
        !get_uids(p, group, "vm-uids", &k->uids, &k->n_uids)) {
        return false;
    }
    if (!k->names && !k->uuids && !k->uids) {
        config_error(p->errp, p->file, p->data, group, NULL,
                     "give at least one of vm-names, vm-uuids, vm-uids");
        return false;
    }
    if (!knob_resolve(p, cfg, k, group)) {
        return false;
    }
    for (i = 0; i + 1 < cfg->knobs->len; i++) {
        PaiovdKnob *o = g_ptr_array_index(cfg->knobs, i);

        if (!strcmp(o->device_dir, k->device_dir)) {
            config_error(p->errp, p->file, p->data, group, "path",
                         "'%s' is also knob '%s'", k->device_dir, o->name);
            return false;
        }
    }
    return true;
}

static bool parse_main(Parse *p, PaiovdConfig *cfg)
{
    g_auto(GStrv) keys = g_key_file_get_keys(p->kf, MAIN_GROUP, NULL, NULL);
    static const char *const known[] = {
        "sysfs-root", "state-dir", "socket", "max-peers", "poll-interval-s",
        "handshake-timeout-s", "reply-timeout-s", "max-lines-per-s",
        "control-uids", "align-period-us", "align-phase-us",
        "thermal-interval-s", "thermal-hysteresis-mc",
        "throttle-interval-us", NULL
    };
    g_autofree char *root = NULL;
    unsigned i;

    for (i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(known, keys[i])) {
            config_error(p->errp, p->file, p->data, MAIN_GROUP, keys[i],
                         "unknown key");
            return false;
        }
    }
    root = g_key_file_get_string(p->kf, MAIN_GROUP, "sysfs-root", NULL);
    if (root) {
        g_strstrip(root);
    }
    cfg->sysfs_root = realpath(root ? root : "/sys", NULL);
    if (!cfg->sysfs_root || !g_path_is_absolute(root ? root : "/")) {
        config_error(p->errp, p->file, p->data, MAIN_GROUP, "sysfs-root",
                     "'%s': %s", root ? root : "/sys",
                     cfg->sysfs_root ? "not absolute" : g_strerror(errno));
        return false;
    }
    cfg->state_dir = g_key_file_get_string(p->kf, MAIN_GROUP, "state-dir",
                                           NULL);
    if (cfg->state_dir && !g_path_is_absolute(g_strstrip(cfg->state_dir))) {
        config_error(p->errp, p->file, p->data, MAIN_GROUP, "state-dir",
                     "'%s' is not absolute", cfg->state_dir);
        return false;
    }
    cfg->socket_path = g_key_file_get_string(p->kf, MAIN_GROUP, "socket",
                                             NULL);
    if (cfg->socket_path &&
        !g_path_is_absolute(g_strstrip(cfg->socket_path))) {
        config_error(p->errp, p->file, p->data, MAIN_GROUP, "socket",
                     "'%s' is not absolute", cfg->socket_path);
        return false;
    }
    return get_uint(p, MAIN_GROUP, "max-peers", 1, 4096, &cfg->max_peers) &&
           get_uint(p, MAIN_GROUP, "poll-interval-s", 1, 3600,
                    &cfg->poll_interval_s) &&
           get_uint(p, MAIN_GROUP, "handshake-timeout-s", 1, 3600,
                    &cfg->handshake_timeout_s) &&
           get_uint(p, MAIN_GROUP, "reply-timeout-s", 1, 3600,
                    &cfg->reply_timeout_s) &&
           get_uint(p, MAIN_GROUP, "max-lines-per-s", 10, 1000000,
                    &cfg->max_lines_per_s) &&
           get_uint(p, MAIN_GROUP, "align-period-us", 0, 60000000,
                    &cfg->align_period_us) &&
           get_uint(p, MAIN_GROUP, "align-phase-us", 0, 60000000,
                    &cfg->align_phase_us) &&
           get_uint(p, MAIN_GROUP, "thermal-interval-s", 0, 3600,
                    &cfg->thermal_interval_s) &&
           get_uint(p, MAIN_GROUP, "thermal-hysteresis-mc", 0, 100000,
                    &cfg->thermal_hysteresis_mc) &&
           get_uint(p, MAIN_GROUP, "throttle-interval-us", 1000, 10000000,
                    &cfg->throttle_interval_us) &&
           get_uids(p, MAIN_GROUP, "control-uids", &cfg->control_uids,
                    &cfg->n_control_uids);
}

PaiovdConfig *paiovd_config_parse(const char *file, const char *data,
                                  gsize len, GError **errp)
{
    PaiovdConfig *cfg = g_new0(PaiovdConfig, 1);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) groups = NULL;
    Parse p = { .file = file, .data = data, .kf = kf, .errp = errp };
    unsigned i;

    cfg->file = g_strdup(file);
    cfg->max_peers = 64;
    cfg->poll_interval_s = 10;
    cfg->handshake_timeout_s = 10;
    cfg->reply_timeout_s = 30;
    cfg->max_lines_per_s = 2000;
    cfg->thermal_interval_s = 2;
    cfg->thermal_hysteresis_mc = 5000;
    cfg->throttle_interval_us = 100000;
    cfg->knobs = g_ptr_array_new_with_free_func(knob_free);

    if (memchr(data, '\0', len)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: contains a NUL byte", file);
        goto fail;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &err)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", file,
                    err->message);
        goto fail;
    }
    groups = g_key_file_get_groups(kf, NULL);
    if (!parse_main(&p, cfg)) {
        goto fail;
    }
    for (i = 0; groups[i]; i++) {
        if (!strcmp(groups[i], MAIN_GROUP)) {
            continue;
        }
        if (!g_str_has_prefix(groups[i], KNOB_PREFIX)) {
            config_error(errp, file, data, groups[i], NULL,
                         "unknown section (expected [paiovd] or "
                         "[knob NAME])");
            goto fail;
        }
        if (!parse_knob(&p, cfg, groups[i])) {
            goto fail;
        }
    }
    if (!cfg->state_dir) {
        cfg->state_dir = g_strdup(PAIOVD_DEFAULT_STATEDIR);
    }
    return cfg;

fail:
    paiovd_config_free(cfg);
    return NULL;
}

PaiovdConfig *paiovd_config_load(const char *file, bool check_owner,
                                 GError **errp)
{
    g_autofree char *data = NULL;
    struct stat st;
    ssize_t n;
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "%s: %s", file, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: not a regular file", file);
        close(fd);
        return NULL;
    }
    if (check_owner && st.st_uid != 0 && st.st_uid != geteuid()) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "%s: owned by uid %u, not by root or the daemon's "
                    "user (uid %u)", file, (unsigned)st.st_uid,
                    (unsigned)geteuid());
        close(fd);
        return NULL;
    }
    if (check_owner && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "%s: writable by group or others (mode 0%o)", file,
                    (unsigned)(st.st_mode & 07777));
        close(fd);
        return NULL;
    }
    data = g_malloc(PAIOVD_CONFIG_MAX + 1);
    n = read(fd, data, PAIOVD_CONFIG_MAX + 1);
    close(fd);
    if (n < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "%s: %s", file, g_strerror(errno));
        return NULL;
    }
    if (n > PAIOVD_CONFIG_MAX) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: larger than %u bytes", file, PAIOVD_CONFIG_MAX);
        return NULL;
    }
    data[n] = '\0';
    return paiovd_config_parse(file, data, n, errp);
}

bool paiovd_config_knob_matches(const PaiovdKnob *k, const char *name,
                                const char *uuid, uid_t uid)
{
    gsize i;
    bool uid_ok = !k->uids;

    if (k->names && (!name || !g_strv_contains((const char *const *)k->names,
                                               name))) {
        return false;
    }
    if (k->uuids) {
        bool found = false;

        for (i = 0; uuid && k->uuids[i]; i++) {
            found |= !g_ascii_strcasecmp(k->uuids[i], uuid);
        }
        if (!found) {
            return false;
        }
    }
    for (i = 0; i < k->n_uids; i++) {
        uid_ok |= k->uids[i] == uid;
    }
    return uid_ok;
}

bool paiovd_config_knob_device(const PaiovdKnob *k, const char *qom_path)
{
    unsigned i;

    for (i = 0; k->devices[i]; i++) {
        const char *d = k->devices[i];

        if (d[0] == '/' ? !strcmp(d, qom_path) :
            (g_str_has_prefix(qom_path, "/machine/peripheral/") &&
             !strcmp(qom_path + strlen("/machine/peripheral/"), d))) {
            return true;
        }
    }
    return false;
}
