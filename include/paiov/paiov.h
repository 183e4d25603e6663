/*
 * PAIOV: power-aware I/O virtualization
 *
 * Public interface of the core for paiov device models: the virtual power
 * state agent (virtual PSA) that a device embeds, and the proxy power
 * management agent (proxy PMA) that turns its states into host actions.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_H
#define PAIOV_PAIOV_H

#include "qapi/qapi-types-paiov.h"
#include "qom/object.h"
#include "qemu/timer.h"
#include "migration/vmstate.h"
#include "audio/audio.h"
#include "hw/pci/pci.h"

#define TYPE_PAIOV_PMA "paiov-pma"
OBJECT_DECLARE_SIMPLE_TYPE(PaiovPMA, PAIOV_PMA)

/* Name of the proxy PMA created for devices that do not name one */
#define PAIOV_PMA_DEFAULT_ID "paiov-pma-default"

typedef struct PaiovVPSA PaiovVPSA;

/**
 * PaiovVPSAOps: what a device model does for its virtual PSA
 * @power_changed: called by the core after the state changed and before
 *     the proxy PMA acts on the host; the device stops its own timers when
 *     @new is not %PAIOV_POWER_STATE_ACTIVE and restarts them otherwise.
 * @timer_armed: whether a timer the device depends on is armed now.
 */
typedef struct PaiovVPSAOps {
    void (*power_changed)(PaiovVPSA *vpsa, PaiovPowerState old,
                          PaiovPowerState new);
    bool (*timer_armed)(PaiovVPSA *vpsa);
    /* optional: device-specific parts of query-paiov */
    void (*query)(PaiovVPSA *vpsa, PaiovDeviceInfo *info);
    /*
     * optional: activity the device saw since the last call that its
     * accesses do not show (VGA: the guest drew into video memory)
     */
    bool (*activity)(PaiovVPSA *vpsa);
    /* the device reports its guest accesses: passive idle applies */
    bool passive_idle;
    /*
     * register accesses are counted but are not activity: only
     * activity() is (ES1370: interrupt handling goes on while a DAC
     * plays silence; only sound counts)
     */
    bool activity_only;
    /* the device wants the PM QoS request while active */
    bool low_latency;
    /*
     * The inputs the device's own registers imply (@dstate: the raw
     * PMCSR power state, 0 to 3), read after a migration stream loaded
     * them: a virtual PSA subsection that disagrees is refused, and
     * without one the state is derived from them.
     */
    void (*registers)(PaiovVPSA *vpsa, uint8_t *dstate,
                      bool *functions_enabled);
    /* the registers that enable the device functions, for messages */
    const char *functions_registers;
} PaiovVPSAOps;

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
 * PaiovVPSA: virtual power state agent, embedded in a paiov device
 *
 * The device feeds it what the guest does (PCI power state, whether any
 * device function is enabled); the core derives the power state, and only
 * paiov_vpsa_set_state() changes it.  All functions must be called with
 * the BQL held.
 */
struct PaiovVPSA {
    /* configuration, set by paiov_vpsa_init() */
    DeviceState *dev;
    const PaiovVPSAOps *ops;
    PaiovPMA *pma;
    QEMUSoundCard *card;            /* audio host resource, or NULL */
    char *host_device;              /* property: sysfs dir of a host device */
    char *path;                     /* canonical QOM path, from realize */
    struct PaiovRpmKnob *rpm;       /* its runtime-PM knob, or NULL */

    /* guest-visible inputs */
    uint8_t dstate;                 /* PCI D-state, 0 or 3 */
    bool functions_enabled;         /* any device function enabled */
    PaiovPowerState state;

    /*
     * Migration: what the stream carries, copied before saving, loaded
     * here and checked before anything is taken from it
     */
    struct {
        uint8_t dstate;
        bool functions_enabled;
        uint32_t state;             /* only for old streams: not used */
        bool received;              /* the stream had the subsection */
    } mig;

    /* accounting, not migrated */
    int64_t entered_ns;             /* QEMU_CLOCK_VIRTUAL */
    int64_t residency_ns[PAIOV_POWER_STATE__MAX];
    uint64_t transitions;
    PaiovReason last_reason;
    PaiovHostRecord audio;
    PaiovHostRecord runtime_pm;
    /* proxy PMA: its host requests follow this state, debounced */
    uint32_t host_state;            /* PaiovPowerState applied */
    bool host_applied;              /* host_state was applied once */
    bool host_pending;              /* a request waits for the debounce */
    uint64_t accesses;              /* guest accesses, DMA activity */
    uint64_t handler_ns;            /* host time in emulation handlers */
    uint64_t wakeups;               /* host wakeups caused (timers) */
    uint64_t wakeups_avoided;
    bool counts_avoided;            /* wakeups_avoided is meaningful */

    /* passive idle: a check every timeout / PAIOV_IDLE_CHECKS */
    QEMUTimer *idle_timer;
    uint64_t accesses_at_check;
    unsigned quiet_checks;
    unsigned quiet_needed;

    /* PAIOV_POWER_STATE_CHANGE throttling */
    QEMUTimer *event_timer;
    int64_t event_sent_ms;
    bool event_pending;
    PaiovPowerState event_old;
    PaiovReason event_reason;

    QTAILQ_ENTRY(PaiovVPSA) next;   /* in the list of all virtual PSAs */
};

/**
 * paiov_transition_allowed: the core's transition table
 *
 * Returns: whether a virtual PSA may go from @from to @to for @reason.
 * A state never transitions to itself.
 */
bool paiov_transition_allowed(PaiovPowerState from, PaiovPowerState to,
                              PaiovReason reason);

/**
 * paiov_vpsa_set_state: the one function that changes a virtual PSA state
 *
 * Traces "old -> new (reason)", accounts residency, notifies the device
 * and the proxy PMA, and emits PAIOV_POWER_STATE_CHANGE.
 *
 * Returns: 0 on success, -EALREADY if @vpsa is in @state already,
 * -EINVAL if the transition is not allowed (nothing changes).
 */
int paiov_vpsa_set_state(PaiovVPSA *vpsa, PaiovPowerState state,
                         PaiovReason reason);

void paiov_vpsa_init(PaiovVPSA *vpsa, DeviceState *dev,
                     const PaiovVPSAOps *ops);

/**
 * paiov_vpsa_attach: attach @vpsa to @pma, or to the machine's default
 * proxy PMA (created on first use) when @pma is NULL, and open its host
 * device.  This is all of a virtual PSA's realize that can fail: a
 * device calls it before it realizes anything else, so that a failed
 * hot-plug leaves nothing behind (paiov_vpsa_unrealize() undoes it).
 */
bool paiov_vpsa_attach(PaiovVPSA *vpsa, PaiovPMA *pma, Error **errp);

/**
 * paiov_vpsa_realize: attach @vpsa (see paiov_vpsa_attach()) unless it
 * is attached already, then start it: the host follows its state.
 * Fails only where paiov_vpsa_attach() does.
 */
bool paiov_vpsa_realize(PaiovVPSA *vpsa, PaiovPMA *pma, Error **errp);
void paiov_vpsa_unrealize(PaiovVPSA *vpsa);

void paiov_vpsa_wake(PaiovVPSA *vpsa);

/*
 * Idle or D3hot: low-power as the guest sees it.  Passive idle is not:
 * the guest left the device running, so it must behave as in active.
 */
static inline bool paiov_vpsa_guest_low_power(const PaiovVPSA *vpsa)
{
    return vpsa->state == PAIOV_POWER_STATE_IDLE ||
           vpsa->state == PAIOV_POWER_STATE_D3HOT;
}

/*
 * A guest access to the device (register, or DMA that counts as
 * activity): counted, and it ends passive idle before it is served.
 * Called with the BQL held, like the device's handlers.
 */
static inline void paiov_vpsa_access(PaiovVPSA *vpsa)
{
    vpsa->accesses++;
    if (unlikely(vpsa->state == PAIOV_POWER_STATE_PASSIVE_IDLE) &&
        !vpsa->ops->activity_only) {
        paiov_vpsa_wake(vpsa);
    }
}

/*
 * Observation of the guest, called by a device model from its own
 * handlers (never by rewriting another object's callbacks):
 * paiov_vpsa_access_begin() counts a guest access to a register region
 * with paiov_vpsa_access() and returns the host time to pass to
 * paiov_vpsa_access_end() once the access is served, which adds the time
 * spent to handler_ns.  paiov_vpsa_timer_fired() counts an expiry of a
 * device timer in the device's host wakeups.
 */
int64_t paiov_vpsa_access_begin(PaiovVPSA *vpsa);
void paiov_vpsa_access_end(PaiovVPSA *vpsa, int64_t begin);
void paiov_vpsa_timer_fired(PaiovVPSA *vpsa);

/* The proxy PMA's policy or timeout changed: re-evaluate passive idle */
void paiov_vpsa_policy_changed(PaiovVPSA *vpsa);

/* Inputs from the device model */
void paiov_vpsa_set_dstate(PaiovVPSA *vpsa, uint8_t dstate);
void paiov_vpsa_set_functions_enabled(PaiovVPSA *vpsa, bool enabled);
void paiov_vpsa_reset(PaiovVPSA *vpsa);

/* Accounting */
int64_t paiov_vpsa_residency_ms(PaiovVPSA *vpsa, PaiovPowerState state);
PaiovDeviceInfo *paiov_vpsa_query(PaiovVPSA *vpsa);
PaiovDeviceInfoList *paiov_query_all(void);

/* Whether a device's vpsa subsection must be sent (not the reset inputs) */
bool paiov_vpsa_migration_needed(const PaiovVPSA *vpsa);

/*
 * A device's migration: its pre_load calls paiov_vpsa_pre_load(), its
 * post_load (which runs after its subsections) paiov_vpsa_post_load().
 * The latter checks the inputs of the virtual PSA subsection (D-state,
 * device functions), if the stream had one, against the device's
 * registers (ops->registers), refuses it with an error naming the device
 * and the field (-EINVAL: the virtual PSA is left as it was), else
 * derives the state from the inputs and makes the device and the host
 * follow it.
 */
void paiov_vpsa_pre_load(PaiovVPSA *vpsa);
int paiov_vpsa_post_load(PaiovVPSA *vpsa);

extern const VMStateDescription vmstate_paiov_vpsa;

#define VMSTATE_PAIOV_VPSA(_field, _state) \
    VMSTATE_STRUCT(_field, _state, 1, vmstate_paiov_vpsa, PaiovVPSA)

/* Proxy PMA, called by the core */
PaiovPMA *paiov_pma_get_default(Error **errp);
uint32_t paiov_pma_idle_timeout_ms(PaiovPMA *pma);
bool paiov_vpsa_low_latency(PaiovVPSA *vpsa);
bool paiov_pma_pm_qos_held(PaiovPMA *pma);
bool paiov_pma_timer_slack_raised(PaiovPMA *pma);
PaiovPmaInfoList *paiov_pma_query_all(void);
bool paiov_pma_attach(PaiovPMA *pma, PaiovVPSA *vpsa, Error **errp);
void paiov_pma_detach(PaiovPMA *pma, PaiovVPSA *vpsa);
void paiov_vpsa_foreach(void (*fn)(PaiovVPSA *vpsa, void *opaque),
                        void *opaque);
void paiov_pma_power_changed(PaiovPMA *pma, PaiovVPSA *vpsa,
                             PaiovPowerState old, PaiovPowerState new);
void paiov_pma_refresh(PaiovPMA *pma, PaiovVPSA *vpsa);

/* PCI glue shared by the paiov PCI devices (hw/paiov/paiov-pci.c) */
bool paiov_pci_pm_init(PCIDevice *pci_dev, uint8_t offset, Error **errp);
/* The power state in PMCSR (0 to 3; 0 without the capability) */
uint8_t paiov_pci_dstate(PCIDevice *pci_dev);
/* For the devices' PCIDeviceClass.pm_state_changed: a D-state change */
void paiov_pci_pm_state_changed(PaiovVPSA *vpsa, uint8_t new);

#endif /* PAIOV_PAIOV_H */
