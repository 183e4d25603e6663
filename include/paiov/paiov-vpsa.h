/*
 * PAIOV virtual power state agent (virtual PSA): the state machine
 *
 * A paiov device embeds a PaiovVPSA and feeds it what the guest does (the
 * PCI power state, whether any device function is enabled); the virtual
 * PSA derives the power state, and only paiov_vpsa_set_state() changes
 * it.  It tells the device (PaiovVPSAOps.power_changed) and then its
 * listeners (PaiovVPSAListener: the proxy PMA) of every transition.  It
 * knows nothing of the host: the passive idle timeout is an input that
 * the proxy PMA pushes (paiov_vpsa_set_idle_timeout()).
 *
 * All functions must be called with the BQL held.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_VPSA_H
#define PAIOV_PAIOV_VPSA_H

#include "qapi/qapi-types-paiov.h"
#include "qemu/queue.h"
#include "qemu/timer.h"
#include "migration/vmstate.h"

typedef struct PaiovVPSA PaiovVPSA;

/* A deadline on @type's clock -> when deferrable work due then runs */
typedef int64_t PaiovVPSAAlignFn(void *opaque, QEMUClockType type,
                                 int64_t deadline_ns);

/**
 * PaiovVPSAOps: what a device model does for its virtual PSA
 * @power_changed: called by the core after the state changed and before
 *     the listeners (the proxy PMA) act on the host; the device stops its
 *     own timers when @new is not %PAIOV_POWER_STATE_ACTIVE and restarts
 *     them otherwise.
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

typedef struct PaiovVPSAListener PaiovVPSAListener;

/**
 * PaiovVPSAListener: told of every transition of a virtual PSA, after
 * the device.  @old == @new is a re-application: the virtual PSA was
 * realized, or a migration left it in the state it had.
 */
struct PaiovVPSAListener {
    void (*power_changed)(PaiovVPSAListener *listener, PaiovVPSA *vpsa,
                          PaiovPowerState old, PaiovPowerState new);
    QTAILQ_ENTRY(PaiovVPSAListener) next;
};

/**
 * PaiovVPSA: virtual power state agent, embedded in a paiov device
 */
struct PaiovVPSA {
    /* configuration, set by paiov_vpsa_init() */
    DeviceState *dev;
    const PaiovVPSAOps *ops;
    char *path;                     /* canonical QOM path, from realize */
    QTAILQ_HEAD(, PaiovVPSAListener) listeners;

    /* guest-visible inputs */
    uint8_t dstate;                 /* PCI D-state, 0 or 3 */
    bool functions_enabled;         /* any device function enabled */
    PaiovPowerState state;

    /* input from the proxy PMA: passive idle after this (0: never) */
    uint32_t idle_timeout_ms;

    /*
     * input from the proxy PMA: when deferrable work due at a deadline on
     * a clock may run (pooling, paiov-align.h); NULL: at the deadline
     */
    PaiovVPSAAlignFn *align;
    void *align_opaque;

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

    QTAILQ_ENTRY(PaiovVPSA) next;   /* in the list of realized ones */
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
 * and then the listeners, and emits PAIOV_POWER_STATE_CHANGE.
 *
 * Returns: 0 on success, -EALREADY if @vpsa is in @state already,
 * -EINVAL if the transition is not allowed (nothing changes).
 */
int paiov_vpsa_set_state(PaiovVPSA *vpsa, PaiovPowerState state,
                         PaiovReason reason);

/* Lifecycle: init (instance_init), realize and unrealize cannot fail */
void paiov_vpsa_init(PaiovVPSA *vpsa, DeviceState *dev,
                     const PaiovVPSAOps *ops);
/* Start: the listeners are told of the initial state (old == new) */
void paiov_vpsa_realize(PaiovVPSA *vpsa);
void paiov_vpsa_unrealize(PaiovVPSA *vpsa);

static inline bool paiov_vpsa_realized(const PaiovVPSA *vpsa)
{
    return QTAILQ_IN_USE(vpsa, next);
}

/* Listeners of the transitions, told in the order they were added */
void paiov_vpsa_add_listener(PaiovVPSA *vpsa, PaiovVPSAListener *listener);
void paiov_vpsa_remove_listener(PaiovVPSA *vpsa,
                                PaiovVPSAListener *listener);

/* Every realized virtual PSA, in the order they were realized */
void paiov_vpsa_foreach(void (*fn)(PaiovVPSA *vpsa, void *opaque),
                        void *opaque);

/*
 * Idle or D3hot: low-power as the guest sees it.  Passive idle is not:
 * the guest left the device running, so it must behave as in active.
 */
static inline bool paiov_vpsa_guest_low_power(const PaiovVPSA *vpsa)
{
    return vpsa->state == PAIOV_POWER_STATE_IDLE ||
           vpsa->state == PAIOV_POWER_STATE_D3HOT;
}

/* Inputs from the device model */
void paiov_vpsa_set_dstate(PaiovVPSA *vpsa, uint8_t dstate);
void paiov_vpsa_set_functions_enabled(PaiovVPSA *vpsa, bool enabled);
void paiov_vpsa_reset(PaiovVPSA *vpsa);

/*
 * Input from the proxy PMA: the passive idle timeout under its policy
 * (0: no passive idle).  Once realized, passive idle is evaluated again
 * at each call (the policy changed): a device in passive idle that may
 * no longer be goes back to active, detection starts over.
 */
void paiov_vpsa_set_idle_timeout(PaiovVPSA *vpsa, uint32_t timeout_ms);

/*
 * Input from the proxy PMA: where deferrable work goes (NULL: nowhere
 * else).  Takes effect at the next deadline armed.
 */
void paiov_vpsa_set_align(PaiovVPSA *vpsa, PaiovVPSAAlignFn *align,
                          void *opaque);

/*
 * When deferrable periodic work of the device due at @deadline_ns on
 * @type's clock may run: never earlier, later only as the proxy PMA
 * allows.  For the device's own timers that it may defer.
 */
static inline int64_t paiov_vpsa_align(PaiovVPSA *vpsa, QEMUClockType type,
                                       int64_t deadline_ns)
{
    int64_t t = vpsa->align ? vpsa->align(vpsa->align_opaque, type,
                                           deadline_ns) : deadline_ns;

    return t > deadline_ns ? t : deadline_ns;
}

/* Guest observation: accesses and wakeups the device causes */
void paiov_vpsa_wake(PaiovVPSA *vpsa);

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

/* Accounting */
int64_t paiov_vpsa_residency_ms(PaiovVPSA *vpsa, PaiovPowerState state);

/* Migration */

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

#endif /* PAIOV_PAIOV_VPSA_H */
