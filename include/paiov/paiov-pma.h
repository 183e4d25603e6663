/*
 * PAIOV proxy power management agent (proxy PMA)
 *
 * One proxy PMA object (-object paiov-pma) serves the paiov devices of a
 * VM; a default one is created for devices that name none.  Each device
 * embeds a PaiovHost, its host side, which only the proxy PMA reads and
 * writes: paiov_host_attach() (realize) resolves the device's proxy PMA,
 * opens its host resources and listens to its virtual PSA, whose states
 * the proxy PMA then turns into host requests through its host backends
 * (hw/paiov/paiov-host-*.c).
 *
 * All functions must be called with the BQL held.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_PMA_H
#define PAIOV_PAIOV_PMA_H

#include "qom/object.h"
#include "paiov/paiov-vpsa.h"

#define TYPE_PAIOV_PMA "paiov-pma"
OBJECT_DECLARE_SIMPLE_TYPE(PaiovPMA, PAIOV_PMA)

/* Name of the proxy PMA created for devices that do not name one */
#define PAIOV_PMA_DEFAULT_ID "paiov-pma-default"

/**
 * PaiovHostRecord: the proxy PMA's account of one host backend of a device
 */
typedef struct PaiovHostRecord {
    PaiovHostActionKind action;     /* the last one, once requests > 0 */
    int level;                      /* backend-specific requested level */
    PaiovHostActionResult result;
    char *error;
    uint64_t requests;
    uint64_t failures;
    uint64_t coalesced;             /* state changes that needed none */
} PaiovHostRecord;

/**
 * PaiovHost: the host side of a paiov device, embedded in the device
 * and owned by the proxy PMA
 *
 * The device sets the configuration (its "pma" and "host-device"
 * properties, DEFINE_PAIOV_PROPERTIES(), and its sound card); everything
 * else belongs to the proxy PMA from paiov_host_attach() to
 * paiov_host_detach().
 */
typedef struct PaiovHost {
    /* configuration, set by the device */
    PaiovPMA *pma_link;             /* property "pma" (NULL: default) */
    char *host_device;              /* property: sysfs dir of a host device */
    struct QEMUSoundCard *card;     /* audio host resource, or NULL */

    /* the proxy PMA's */
    PaiovPMA *pma;                  /* holds a reference */
    PaiovVPSA *vpsa;
    struct PaiovRpmKnob *rpm;       /* its runtime-PM knob, or NULL */
    PaiovHostRecord records[PAIOV_HOST_BACKEND__MAX];
    /* host requests follow this state, debounced */
    uint32_t state;                 /* PaiovPowerState applied */
    bool applied;                   /* state was applied once */
    bool pending;                   /* a request waits for the debounce */
    PaiovVPSAListener listener;
    QTAILQ_ENTRY(PaiovHost) next;
} PaiovHost;

/*
 * Whether the proxy PMA of @host asks its displays to refresh at the
 * idle rate (property display-idle-rate: paiovd's thermal throttle).
 * Display devices read it at each refresh.
 */
bool paiov_host_display_idle_rate(const PaiovHost *host);

/**
 * paiov_host_attach: attach the host side of a device to its proxy PMA
 *
 * The proxy PMA is @host->pma_link, or the machine's default one
 * (created on first use).  Opens the host device (@host->host_device),
 * gives @vpsa the proxy PMA's idle timeout and listens to it.  This is
 * all of a paiov device's realize that can fail: a device calls it
 * before it realizes anything else, so that a failed hot-plug leaves
 * nothing behind (paiov_host_detach() undoes it).
 */
bool paiov_host_attach(PaiovHost *host, PaiovVPSA *vpsa, Error **errp);
void paiov_host_detach(PaiovHost *host);

/*
 * A sound card that comes after realize (intel-hda-paiov: its codec's),
 * or goes before unrealize (NULL): the host state is applied again to it
 */
void paiov_host_set_card(PaiovHost *host, struct QEMUSoundCard *card);

/* For query-paiov and query-paiov-pma (hw/paiov/paiov-qmp.c) */
PaiovHost *paiov_host_find(PaiovVPSA *vpsa);
/* Bring asynchronous host results up to date */
void paiov_host_refresh(PaiovHost *host);
/* Whether the device holds the proxy PMA's PM QoS request now */
bool paiov_host_low_latency(PaiovHost *host);
/* The realized devices of @pma */
void paiov_pma_foreach_host(PaiovPMA *pma,
                            void (*fn)(PaiovHost *host, void *opaque),
                            void *opaque);
/* What @pma knows of itself: everything but the devices' totals */
void paiov_pma_query(PaiovPMA *pma, PaiovPmaInfo *info);
bool paiov_pma_pm_qos_held(PaiovPMA *pma);
bool paiov_pma_timer_slack_raised(PaiovPMA *pma);

#endif /* PAIOV_PAIOV_PMA_H */
