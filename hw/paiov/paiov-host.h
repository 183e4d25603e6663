/*
 * PAIOV proxy PMA: the interface between the proxy PMA object and its
 * host backends (private to hw/paiov)
 *
 * paiov-pma.c is the object and its policy: which state a device's host
 * requests follow and when (debounce), and what the VM as a whole asks
 * for.  Each host backend (paiov-host-audio.c, paiov-host-rpm.c,
 * paiov-host-cpu.c) turns that into requests to one part of the host PM
 * framework, behind a PaiovHostBackendOps in paiov_host_backends[].  A
 * new backend is one new file and one entry there.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PAIOV_PAIOV_HOST_H
#define HW_PAIOV_PAIOV_HOST_H

#include "qemu/notify.h"
#include "chardev/char.h"
#include "system/runstate.h"
#include "paiov/paiov-pma.h"

struct PaiovPMA {
    Object parent_obj;

    PaiovPolicy policy;
    uint32_t idle_timeout_ms;
    Notifier exit;
    bool exit_registered;
    bool exiting;                   /* QEMU exits: release, do not undo */

    /* debounce of host requests toward less power */
    uint32_t host_debounce_ms;
    QEMUTimer *debounce_timer;      /* QEMU_CLOCK_VIRTUAL */
    VMChangeStateEntry *vm_change;
    uint64_t host_requests;         /* through the devices' backends */
    uint64_t host_coalesced;

    /* audio backend */
    PaiovAudioAction audio_idle;
    PaiovAudioAction audio_d3hot;

    /* runtime-PM backend */
    char *sysfs_root;
    char *runtime_dir;
    uint32_t autosuspend_delay_ms;

    /* CPU backend: PM QoS request */
    int32_t pm_qos_latency_us;      /* -1: no request */
    int pm_qos_fd;
    uint64_t pm_qos_requests;
    uint64_t pm_qos_coalesced;
    bool pm_qos_drop_pending;
    char *pm_qos_error;

    /* CPU backend: timer slack of QEMU's threads */
    uint64_t timer_slack_ns;
    GHashTable *slack_saved;        /* tid -> original, still raised */
    GArray *slack_failed;           /* tids the last pass could not set */
    bool slack_raised;
    bool slack_raise_pending;
    uint64_t slack_default;         /* QEMU's threads' slack, not raised */
    uint64_t slack_raises;
    uint64_t slack_threads;
    uint64_t slack_coalesced;
    int64_t slack_retry_ms;         /* last retry of failed restores */
    int main_tid;                   /* main loop thread */
    QEMUBH *slack_bh;               /* restore the main loop thread */
    char *slack_error;

    /* coordination (paiov-coord.c): paiovd, pooling, SLA */
    char *paiovd;
    Chardev *paiovd_chr;
    uint32_t align_period_us;
    uint32_t align_phase_us;
    uint32_t max_delay_ms;
    PaiovSla sla;
    uint64_t align_moved;           /* deadlines moved onto the grid */
    uint64_t align_kept;            /* deadlines left where they were */
    int64_t align_delay_ns;         /* sum of the moves */
    int64_t align_max_delay_ns;
    bool display_idle_rate;         /* paiovd's thermal throttle */
};

/* What the proxy PMA's realized devices are doing, for VM-wide backends */
typedef struct PaiovPmaScan {
    unsigned devices;
    unsigned low_power;             /* not active */
    unsigned pending;               /* requests waiting for the debounce */
    bool low_latency;               /* one of them wants PM QoS */
} PaiovPmaScan;

/**
 * PaiovHostBackendOps: one host backend of the proxy PMA
 *
 * Every hook is optional.  Per device: a device uses the backend while
 * @present says so; @apply makes the host follow the device's state and
 * accounts the request in host->records[@backend].  Per VM: @update
 * decides what the VM holds after any change, deferring what goes
 * toward less power with paiov_pma_arm_debounce() unless @now.
 */
typedef struct PaiovHostBackendOps {
    const char *name;
    int backend;                    /* PaiovHostBackend, -1: per VM only */

    /* the object: properties, defaults, teardown */
    void (*class_init)(ObjectClass *oc);
    void (*instance_init)(PaiovPMA *pma);
    void (*instance_finalize)(PaiovPMA *pma);
    bool (*complete)(PaiovPMA *pma, Error **errp);  /* created */

    /* per device */
    bool (*attach)(PaiovPMA *pma, PaiovHost *host, Error **errp);
    bool (*present)(PaiovHost *host);
    void (*apply)(PaiovPMA *pma, PaiovHost *host, PaiovPowerState state);
    void (*refresh)(PaiovHost *host);
    void (*release)(PaiovHost *host);

    /* per VM */
    void (*update)(PaiovPMA *pma, const PaiovPmaScan *scan, bool now);
    void (*exit)(PaiovPMA *pma);    /* QEMU exits: give everything back */
    void (*query)(PaiovPMA *pma, PaiovPmaInfo *info);
} PaiovHostBackendOps;

extern const PaiovHostBackendOps paiov_host_audio_ops;
extern const PaiovHostBackendOps paiov_host_rpm_ops;
extern const PaiovHostBackendOps paiov_host_cpu_ops;
extern const PaiovHostBackendOps paiov_coord_ops;

/* The proxy PMA's services to its backends (paiov-pma.c) */

/* Passive idle timeout under the current policy (0: none) */
uint32_t paiov_pma_idle_timeout_ms(PaiovPMA *pma);
/* A setting changed: apply it to every device and the VM at once */
void paiov_pma_reapply(PaiovPMA *pma);
/* Re-evaluate what the VM holds (PM QoS, timer slack) */
void paiov_pma_update(PaiovPMA *pma, bool now);
/* Make the VM-wide backends' deferred requests at the window's end */
void paiov_pma_arm_debounce(PaiovPMA *pma);

/*
 * Pooling (paiov-coord.c): when deferrable work due at @deadline on
 * QEMU_CLOCK_VIRTUAL may run, for a PaiovPMA @opaque; with @account the
 * PMA counts it as aligned or not (AudioTimerAlignFn: the audio timer is
 * armed there)
 */
int64_t paiov_pma_align_virtual(void *opaque, int64_t deadline, bool account);

/* Account a new request through one backend of a device */
void paiov_host_request(PaiovHost *host, PaiovHostBackend backend,
                        PaiovHostActionKind action);
/* A request, or its asynchronous completion, failed: record and trace */
void paiov_host_failed(PaiovHost *host, PaiovHostBackend backend,
                       const char *error);
/* "TYPE" of the device, for traces and warnings */
const char *paiov_host_dev_type(PaiovHost *host);

#endif /* HW_PAIOV_PAIOV_HOST_H */
