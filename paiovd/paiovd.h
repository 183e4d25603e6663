/*
 * paiovd: host-side coordinator of the proxy PMAs of several QEMUs
 *
 * See docs/paiovd.md.  The daemon speaks QEMU's own QMP to every VM that
 * joins (an extra monitor of QEMU connected to the daemon's socket) and
 * holds the runtime-PM knobs (power/control, power/autosuspend_delay_ms)
 * of the host devices its configuration maps to the VMs' paiov devices.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOVD_H
#define PAIOVD_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PAIOVD_DEFAULT_CONFIG   "/etc/paiov/paiovd.conf"
#define PAIOVD_DEFAULT_SOCKET   "/run/paiov/paiovd.sock"
#define PAIOVD_DEFAULT_STATEDIR "/var/lib/paiov"

/* Every configuration file and state file read fits in this */
#define PAIOVD_CONFIG_MAX       (64 * 1024)
#define PAIOVD_SMALL_MAX        64
#define PAIOVD_JOURNAL_MAX      4096

/* The runtime-PM delay a VM votes when its PMA does not say (QEMU's) */
#define PAIOVD_DEFAULT_DELAY_MS 2000

/* A host device whose runtime-PM knob the daemon holds for some VMs */
typedef struct PaiovdKnob {
    char *name;             /* the section is "knob NAME" */
    char *path;             /* as configured */
    char *device_dir;       /* resolved, below the sysfs root */
    char **devices;         /* QOM ids or paths of the voting devices */
    char **names;           /* VM names (query-name), NULL: any */
    char **uuids;           /* VM UUIDs (query-uuid), NULL: any */
    uid_t *uids;            /* peer uids (SO_PEERCRED), NULL: any */
    gsize n_uids;

    /* held state */
    bool saved;             /* originals journaled, knob changed by us */
    char orig_control[16];
    char orig_delay[24];    /* "": unreadable, never written */
    char applied[16];       /* what we last wrote, "" when restored */
    bool delay_written;     /* autosuspend_delay_ms written while held */
    uint32_t written_delay;
    unsigned voters;        /* at the last aggregation */
    unsigned low;
    char *error;            /* the last failure, for paiovctl */
    uint64_t writes;
    uint64_t failures;
} PaiovdKnob;

typedef struct PaiovdConfig {
    char *file;
    char *sysfs_root;       /* resolved */
    char *state_dir;
    char *socket_path;
    unsigned max_peers;
    unsigned poll_interval_s;
    unsigned handshake_timeout_s;
    unsigned reply_timeout_s;
    unsigned max_lines_per_s;
    uid_t *control_uids;    /* besides root and the daemon's own uid */
    gsize n_control_uids;
    GPtrArray *knobs;       /* of PaiovdKnob */
    /* coordination: the host-wide grid given to every PMA (0: none) */
    unsigned align_period_us;
    unsigned align_phase_us;
    /* thermal urgency: zones polled this often (0: never) */
    unsigned thermal_interval_s;
    unsigned thermal_hysteresis_mc;
    unsigned throttle_interval_us;  /* filter-buffer interval */
} PaiovdConfig;

/* config.c */
PaiovdConfig *paiovd_config_load(const char *file, bool check_owner,
                                 GError **errp);
PaiovdConfig *paiovd_config_parse(const char *file, const char *data,
                                  gsize len, GError **errp);
void paiovd_config_free(PaiovdConfig *cfg);
bool paiovd_config_knob_matches(const PaiovdKnob *k, const char *name,
                                const char *uuid, uid_t uid);
bool paiovd_config_knob_device(const PaiovdKnob *k, const char *qom_path);

/* knob.c */
int paiovd_state_open(const char *dir, GError **errp);
void paiovd_knob_apply(PaiovdKnob *k, int state_fd, unsigned voters,
                       unsigned low, uint32_t delay_ms);
void paiovd_knob_restore(PaiovdKnob *k, int state_fd);
void paiovd_journal_recover(PaiovdConfig *cfg, int state_fd);
int paiovd_knob_read(const PaiovdKnob *k, const char *attr, char *buf,
                     size_t len);

/* thermal.c: thermal zones under SYSFS-ROOT/class/thermal */
typedef struct PaiovdZone {
    char *name;             /* thermal_zoneN */
    int temp_mc;            /* millidegrees Celsius */
    int trip_mc;            /* the lowest passive or critical trip */
    char trip_type[16];     /* its type, "" when the zone has none */
} PaiovdZone;

GPtrArray *paiovd_thermal_scan(const char *sysfs_root);
/*
 * Whether the host must be throttled: on as soon as a zone reaches its
 * lowest passive or critical trip point; once on, off only when every
 * zone is @hysteresis_mc below its trip.
 */
bool paiovd_thermal_hot(GPtrArray *zones, bool throttled,
                        unsigned hysteresis_mc);

/*
 * throttle-journal.c: the policies a throttle replaced, per VM, in the
 * state dir
 */
typedef struct PaiovdVmId {
    pid_t pid;              /* SO_PEERCRED: checked by the kernel */
    guint64 start_time;     /* of that process (/proc/PID/stat), 0: unknown */
    const char *name;       /* query-name, query-uuid: claimed by QEMU, */
    const char *uuid;       /* only written into the entry, never a key */
} PaiovdVmId;

/* The start time of process @pid in clock ticks since boot */
bool paiovd_proc_start_time(pid_t pid, guint64 *start_time);

/* Printable ASCII, at most 255 bytes */
bool paiovd_printable(const char *s);
/* The VM's entry in the state dir; NULL: the VM has none */
char *paiovd_throttle_journal_name(const PaiovdVmId *vm);
/* @saved: PMA path -> policy; failures are logged with @label */
void paiovd_throttle_journal_write(int state_fd, const PaiovdVmId *vm,
                                   GHashTable *saved, const char *label);
void paiovd_throttle_journal_remove(int state_fd, const PaiovdVmId *vm);
/* Add the VM's journaled policies to @saved (those not there yet) */
void paiovd_throttle_journal_load(int state_fd, const PaiovdVmId *vm,
                                  GHashTable *saved);
/* Remove the entries of QEMU processes that are gone */
void paiovd_throttle_journal_sweep(int state_fd);

/* log.c-like helpers in main.c */
void paiovd_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
