/*
 * PAIOV proxy power management agent (proxy PMA): the object and its
 * policy
 *
 * One proxy PMA serves the paiov devices of a VM (a default one is created
 * for devices that name none).  It listens to their virtual PSAs and
 * turns their states into requests to the host PM framework through its
 * host backends (paiov_host_backends[]): per device, the host sound
 * stream (paiov-host-audio.c) and the runtime PM of the host device
 * behind it (paiov-host-rpm.c); per VM, the CPU: PM QoS and the timer
 * slack of QEMU's threads (paiov-host-cpu.c).  The policy (performance,
 * balanced, powersave) decides how far each backend goes, and the
 * passive idle timeout that the virtual PSAs are given.
 *
 * Host requests are debounced (property host-debounce-ms): the virtual
 * PSA state follows the guest at once, but a request toward less power
 * (cork, release, a low runtime-PM vote, dropping PM QoS, raising the
 * timer slack) waits for the end of a window on QEMU_CLOCK_VIRTUAL and
 * is then made only if still wanted, the last wanted level winning.  A
 * request toward more power is made at once (the host stream must run
 * before the guest's first sample is due).  So a guest that toggles a
 * device in a loop costs the host at most one "up" and one "down" per
 * window, not one request per toggle.  The virtual clock keeps qtests
 * deterministic; it stops with the VM, so stopping the VM applies what is
 * pending.  QEMU's exit drops it: the knobs are restored anyway.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-paiov.h"
#include "qapi/visitor.h"
#include "qom/object_interfaces.h"
#include "hw/qdev-core.h"
#include "system/system.h"
#include "paiov-host.h"
#include "trace.h"

#define PAIOV_PMA_DEBOUNCE_DEFAULT_MS 50
#define PAIOV_PMA_DEBOUNCE_MAX_MS 10000u

/* The host backends, in the order they act and are listed */
static const PaiovHostBackendOps *const paiov_host_backends[] = {
    &paiov_host_audio_ops,
    &paiov_host_rpm_ops,
    &paiov_host_cpu_ops,
    &paiov_coord_ops,
};

#define FOR_EACH_BACKEND(ops, i)                                       \
    for (i = 0; i < ARRAY_SIZE(paiov_host_backends) &&                 \
         (ops = paiov_host_backends[i]); i++)

/* The host sides of all devices, in the order they were attached */
static QTAILQ_HEAD(, PaiovHost) paiov_hosts =
    QTAILQ_HEAD_INITIALIZER(paiov_hosts);

/* Whether @host counts as a device of @pma: attached and realized */
static bool paiov_pma_serves(PaiovPMA *pma, PaiovHost *host)
{
    return host->pma == pma && paiov_vpsa_realized(host->vpsa);
}

/* Whether a device's host requests go through the per-device @ops */
static bool paiov_host_uses(const PaiovHostBackendOps *ops, PaiovHost *host)
{
    return ops->apply && (!ops->present || ops->present(host));
}

const char *paiov_host_dev_type(PaiovHost *host)
{
    return object_get_typename(OBJECT(host->vpsa->dev));
}

void paiov_host_request(PaiovHost *host, PaiovHostBackend backend,
                        PaiovHostActionKind action)
{
    PaiovHostRecord *rec = &host->records[backend];

    rec->action = action;
    rec->requests++;
    g_free(rec->error);
    rec->error = NULL;
}

void paiov_host_failed(PaiovHost *host, PaiovHostBackend backend,
                       const char *error)
{
    PaiovHostRecord *rec = &host->records[backend];

    rec->result = PAIOV_HOST_ACTION_RESULT_FAILED;
    rec->failures++;
    g_free(rec->error);
    rec->error = g_strdup(error);
    trace_paiov_pma_host_failed(paiov_host_dev_type(host),
                                PaiovHostBackend_str(backend),
                                PaiovHostActionKind_str(rec->action),
                                rec->error);
}

uint32_t paiov_pma_idle_timeout_ms(PaiovPMA *pma)
{
    switch (pma->policy) {
    case PAIOV_POLICY_PERFORMANCE:
        return 0;
    case PAIOV_POLICY_POWERSAVE:
        return pma->idle_timeout_ms ? MAX(pma->idle_timeout_ms / 4, 1) : 0;
    default:
        return pma->idle_timeout_ms;
    }
}

bool paiov_host_low_latency(PaiovHost *host)
{
    PaiovVPSA *vpsa = host->vpsa;

    if (!host->pma || !vpsa->ops->low_latency) {
        return false;
    }
    if (host->pma->policy == PAIOV_POLICY_PERFORMANCE) {
        return vpsa->state == PAIOV_POWER_STATE_ACTIVE ||
               vpsa->state == PAIOV_POWER_STATE_PASSIVE_IDLE;
    }
    return vpsa->state == PAIOV_POWER_STATE_ACTIVE;
}

void paiov_pma_foreach_host(PaiovPMA *pma,
                            void (*fn)(PaiovHost *host, void *opaque),
                            void *opaque)
{
    PaiovHost *host, *next;

    QTAILQ_FOREACH_SAFE(host, &paiov_hosts, next, next) {
        if (paiov_pma_serves(pma, host)) {
            fn(host, opaque);
        }
    }
}

PaiovHost *paiov_host_find(PaiovVPSA *vpsa)
{
    PaiovHost *host;

    QTAILQ_FOREACH(host, &paiov_hosts, next) {
        if (host->vpsa == vpsa) {
            return host;
        }
    }
    return NULL;
}

static void paiov_pma_scan_one(PaiovHost *host, void *opaque)
{
    PaiovPmaScan *scan = opaque;

    scan->devices++;
    if (host->vpsa->state != PAIOV_POWER_STATE_ACTIVE) {
        scan->low_power++;
    }
    scan->low_latency |= paiov_host_low_latency(host);
    scan->pending += host->pending;
}

static void paiov_pma_scan(PaiovPMA *pma, PaiovPmaScan *scan)
{
    memset(scan, 0, sizeof(*scan));
    paiov_pma_foreach_host(pma, paiov_pma_scan_one, scan);
}

void paiov_pma_arm_debounce(PaiovPMA *pma)
{
    if (!timer_pending(pma->debounce_timer)) {
        timer_mod(pma->debounce_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  pma->host_debounce_ms);
    }
}

/*
 * After any change: what the VM-wide backends should hold for this VM.
 * What goes toward less power waits for the debounce unless @now.
 */
void paiov_pma_update(PaiovPMA *pma, bool now)
{
    const PaiovHostBackendOps *ops;
    PaiovPmaScan scan;
    size_t i;

    paiov_pma_scan(pma, &scan);
    now |= !pma->host_debounce_ms || !runstate_is_running();
    FOR_EACH_BACKEND(ops, i) {
        if (ops->update) {
            ops->update(pma, &scan, now);
        }
    }
}

/* Order of the states by the host power they ask for */
static int paiov_state_power(PaiovPowerState state)
{
    switch (state) {
    case PAIOV_POWER_STATE_ACTIVE:
        return 3;
    case PAIOV_POWER_STATE_PASSIVE_IDLE:
        return 2;
    case PAIOV_POWER_STATE_IDLE:
        return 1;
    default:
        return 0;
    }
}

/* Make the host backends of a device follow its current state */
static void paiov_pma_apply(PaiovPMA *pma, PaiovHost *host)
{
    const PaiovHostBackendOps *ops;
    size_t i;

    host->pending = false;
    host->applied = true;
    host->state = host->vpsa->state;
    FOR_EACH_BACKEND(ops, i) {
        if (paiov_host_uses(ops, host)) {
            pma->host_requests++;
            ops->apply(pma, host, host->vpsa->state);
        }
    }
}

/* A state change of a device made no host request of its own */
static void paiov_pma_coalesced(PaiovPMA *pma, PaiovHost *host)
{
    const PaiovHostBackendOps *ops;
    size_t i;

    FOR_EACH_BACKEND(ops, i) {
        if (paiov_host_uses(ops, host)) {
            host->records[ops->backend].coalesced++;
            pma->host_coalesced++;
        }
    }
}

/* The debounce window ends: what waits for it is applied, or dropped */
static void paiov_pma_end_window(PaiovPMA *pma, bool apply)
{
    PaiovHost *host;

    if (pma->debounce_timer) {
        timer_del(pma->debounce_timer);
    }
    QTAILQ_FOREACH(host, &paiov_hosts, next) {
        if (!paiov_pma_serves(pma, host) || !host->pending) {
            continue;
        }
        if (apply) {
            trace_paiov_pma_debounce(host->vpsa->path ?: "",
                                     PaiovPowerState_str(host->vpsa->state),
                                     "apply");
            paiov_pma_apply(pma, host);
        } else {
            host->pending = false;
        }
    }
}

/* Make every request that waits for the debounce now */
static void paiov_pma_flush(PaiovPMA *pma)
{
    paiov_pma_end_window(pma, true);
    paiov_pma_update(pma, true);
}

static void paiov_pma_debounce_timer(void *opaque)
{
    paiov_pma_flush(opaque);
}

/* A stopped VM's guest changes nothing: it gets its low power at once */
static void paiov_pma_vm_change(void *opaque, bool running, RunState state)
{
    if (!running) {
        paiov_pma_flush(opaque);
    }
}

/*
 * QEMU exits (quit, SIGTERM, SIGINT): every knob goes back.  Requests
 * still waiting for the debounce are dropped, not applied: the process
 * ends, and the audio state they would reach may already be freed (exit
 * handlers run in no order we control).
 */
static void paiov_pma_exit(Notifier *n, void *data)
{
    PaiovPMA *pma = container_of(n, PaiovPMA, exit);
    const PaiovHostBackendOps *ops;
    PaiovHost *host;
    size_t i;

    pma->exiting = true;
    paiov_pma_end_window(pma, false);
    FOR_EACH_BACKEND(ops, i) {
        if (!ops->release) {
            continue;
        }
        QTAILQ_FOREACH(host, &paiov_hosts, next) {
            if (paiov_pma_serves(pma, host)) {
                ops->release(host);
            }
        }
    }
    FOR_EACH_BACKEND(ops, i) {
        if (ops->exit) {
            ops->exit(pma);
        }
    }
}

static void paiov_pma_register_exit(PaiovPMA *pma)
{
    if (!pma->exit_registered) {
        pma->exit.notify = paiov_pma_exit;
        qemu_add_exit_notifier(&pma->exit);
        pma->exit_registered = true;
    }
}

/* A device's state changed (@old == @new: apply it again, at once) */
static void paiov_pma_power_changed(PaiovPMA *pma, PaiovHost *host,
                                    PaiovPowerState old, PaiovPowerState new)
{
    /* a re-application (realize, policy, migration) is made at once */
    bool now = old == new || !pma->host_debounce_ms ||
               !runstate_is_running();
    const char *path = host->vpsa->path ?: "";

    trace_paiov_pma_power_changed(paiov_host_dev_type(host),
                                  PaiovPowerState_str(old),
                                  PaiovPowerState_str(new));
    if (host->pending) {
        /* superseded before it was made */
        paiov_pma_coalesced(pma, host);
        host->pending = false;
    }
    if (now || !host->applied ||
        paiov_state_power(new) > paiov_state_power(host->state)) {
        /* toward more power: the host must be ready at once */
        paiov_pma_apply(pma, host);
    } else if (new == host->state) {
        trace_paiov_pma_debounce(path, PaiovPowerState_str(new),
                                 "already applied");
        paiov_pma_coalesced(pma, host);
    } else {
        trace_paiov_pma_debounce(path, PaiovPowerState_str(new), "deferred");
        host->pending = true;
        paiov_pma_arm_debounce(pma);
    }
    paiov_pma_update(pma, old == new);
}

static void paiov_host_power_changed(PaiovVPSAListener *listener,
                                     PaiovVPSA *vpsa, PaiovPowerState old,
                                     PaiovPowerState new)
{
    PaiovHost *host = container_of(listener, PaiovHost, listener);

    paiov_pma_power_changed(host->pma, host, old, new);
}

/* The policy or a timeout changed: apply it to every device at once */
void paiov_pma_reapply(PaiovPMA *pma)
{
    uint32_t timeout = paiov_pma_idle_timeout_ms(pma);
    PaiovHost *host;

    trace_paiov_pma_policy(PaiovPolicy_str(pma->policy), timeout);
    QTAILQ_FOREACH(host, &paiov_hosts, next) {
        if (host->pma != pma) {
            continue;
        }
        paiov_vpsa_set_idle_timeout(host->vpsa, timeout);
        if (paiov_vpsa_realized(host->vpsa)) {
            paiov_pma_power_changed(pma, host, host->vpsa->state,
                                    host->vpsa->state);
        }
    }
    paiov_pma_update(pma, true);
}

void paiov_host_set_card(PaiovHost *host, struct QEMUSoundCard *card)
{
    host->card = card;
    if (host->pma && card && paiov_vpsa_realized(host->vpsa)) {
        paiov_pma_power_changed(host->pma, host, host->vpsa->state,
                                host->vpsa->state);
    }
}

void paiov_host_refresh(PaiovHost *host)
{
    const PaiovHostBackendOps *ops;
    size_t i;

    FOR_EACH_BACKEND(ops, i) {
        if (ops->refresh) {
            ops->refresh(host);
        }
    }
}

void paiov_pma_query(PaiovPMA *pma, PaiovPmaInfo *info)
{
    const PaiovHostBackendOps *ops;
    PaiovPmaScan scan;
    size_t i;

    paiov_pma_scan(pma, &scan);
    info->qom_path = object_get_canonical_path(OBJECT(pma));
    info->policy = pma->policy;
    info->idle_timeout_ms = paiov_pma_idle_timeout_ms(pma);
    info->devices = scan.devices;
    info->low_power = scan.low_power;
    FOR_EACH_BACKEND(ops, i) {
        if (ops->query) {
            ops->query(pma, info);
        }
    }
    info->host_debounce_ms = pma->host_debounce_ms;
    info->host_requests = pma->host_requests;
    info->host_requests_coalesced = pma->host_coalesced;
    info->host_requests_pending = scan.pending;
}

static PaiovPMA *paiov_pma_get_default(Error **errp)
{
    Object *root = object_get_objects_root();
    Object *obj = object_resolve_path_component(root, PAIOV_PMA_DEFAULT_ID);

    if (obj) {
        return PAIOV_PMA(obj);
    }
    obj = object_new_with_props(TYPE_PAIOV_PMA, root, PAIOV_PMA_DEFAULT_ID,
                                errp, NULL);
    return obj ? PAIOV_PMA(obj) : NULL;
}

static void paiov_host_release(PaiovHost *host)
{
    const PaiovHostBackendOps *ops;
    size_t i;

    FOR_EACH_BACKEND(ops, i) {
        if (ops->release) {
            ops->release(host);
        }
    }
}

bool paiov_host_attach(PaiovHost *host, PaiovVPSA *vpsa, Error **errp)
{
    PaiovPMA *pma = host->pma_link;
    const PaiovHostBackendOps *ops;
    size_t i;

    assert(!host->pma);
    if (!pma) {
        pma = paiov_pma_get_default(errp);
        if (!pma) {
            return false;
        }
    }
    /* timer slack and PM QoS go back on exit too */
    paiov_pma_register_exit(pma);
    host->vpsa = vpsa;
    FOR_EACH_BACKEND(ops, i) {
        if (ops->attach && !ops->attach(pma, host, errp)) {
            paiov_host_release(host);
            host->vpsa = NULL;
            return false;
        }
    }
    host->pma = PAIOV_PMA(object_ref(OBJECT(pma)));
    QTAILQ_INSERT_TAIL(&paiov_hosts, host, next);
    host->listener.power_changed = paiov_host_power_changed;
    paiov_vpsa_add_listener(vpsa, &host->listener);
    paiov_vpsa_set_idle_timeout(vpsa, paiov_pma_idle_timeout_ms(pma));
    return true;
}

void paiov_host_detach(PaiovHost *host)
{
    PaiovPMA *pma = host->pma;
    int b;

    if (!pma) {
        return;
    }
    paiov_vpsa_remove_listener(host->vpsa, &host->listener);
    QTAILQ_REMOVE(&paiov_hosts, host, next);
    /* a request still waiting for the debounce goes with the device */
    host->pending = false;
    paiov_host_release(host);
    /* no longer listed: PM QoS and timer slack follow the others now */
    paiov_pma_update(pma, true);
    host->pma = NULL;
    object_unref(OBJECT(pma));
    for (b = 0; b < PAIOV_HOST_BACKEND__MAX; b++) {
        g_free(host->records[b].error);
        host->records[b].error = NULL;
    }
}
static int paiov_pma_get_policy(Object *obj, Error **errp)
{
    return PAIOV_PMA(obj)->policy;
}

static void paiov_pma_set_policy(Object *obj, int value, Error **errp)
{
    PAIOV_PMA(obj)->policy = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static void paiov_pma_get_idle_timeout(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    visit_type_uint32(v, name, &PAIOV_PMA(obj)->idle_timeout_ms, errp);
}

static void paiov_pma_set_idle_timeout(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    PAIOV_PMA(obj)->idle_timeout_ms = value;
    paiov_pma_reapply(PAIOV_PMA(obj));
}

static void paiov_pma_get_debounce(Object *obj, Visitor *v,
                                   const char *name, void *opaque,
                                   Error **errp)
{
    visit_type_uint32(v, name, &PAIOV_PMA(obj)->host_debounce_ms, errp);
}

static void paiov_pma_set_debounce(Object *obj, Visitor *v,
                                   const char *name, void *opaque,
                                   Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value > PAIOV_PMA_DEBOUNCE_MAX_MS) {
        error_setg(errp, "paiov-pma property '%s' must be between 0 and "
                   "%u ms, not %" PRIu32, name, PAIOV_PMA_DEBOUNCE_MAX_MS,
                   value);
        return;
    }
    pma->host_debounce_ms = value;
    /* what waits is applied now; the new window starts with the next */
    paiov_pma_flush(pma);
}


static void paiov_pma_instance_init(Object *obj)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    const PaiovHostBackendOps *ops;
    size_t i;

    pma->policy = PAIOV_POLICY_BALANCED;
    pma->idle_timeout_ms = 5000;
    pma->host_debounce_ms = PAIOV_PMA_DEBOUNCE_DEFAULT_MS;
    pma->debounce_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL,
                                       paiov_pma_debounce_timer, pma);
    pma->vm_change = qemu_add_vm_change_state_handler(paiov_pma_vm_change,
                                                      pma);
    FOR_EACH_BACKEND(ops, i) {
        if (ops->instance_init) {
            ops->instance_init(pma);
        }
    }
}

static void paiov_pma_instance_finalize(Object *obj)
{
    PaiovPMA *pma = PAIOV_PMA(obj);
    const PaiovHostBackendOps *ops;
    size_t i;

    if (pma->exit_registered) {
        qemu_remove_exit_notifier(&pma->exit);
    }
    /* no device is left (each holds a reference): nothing is pending */
    qemu_del_vm_change_state_handler(pma->vm_change);
    timer_free(pma->debounce_timer);
    pma->debounce_timer = NULL;
    FOR_EACH_BACKEND(ops, i) {
        if (ops->instance_finalize) {
            ops->instance_finalize(pma);
        }
    }
}

static void paiov_pma_complete(UserCreatable *uc, Error **errp)
{
    const PaiovHostBackendOps *ops;
    size_t i;

    FOR_EACH_BACKEND(ops, i) {
        if (ops->complete && !ops->complete(PAIOV_PMA(uc), errp)) {
            return;
        }
    }
}

/* A monitor cannot be removed: a PMA that made one stays */
static bool paiov_pma_can_be_deleted(UserCreatable *uc)
{
    return !PAIOV_PMA(uc)->paiovd_chr;
}

static void paiov_pma_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);
    const PaiovHostBackendOps *ops;
    size_t i;

    ucc->complete = paiov_pma_complete;
    ucc->can_be_deleted = paiov_pma_can_be_deleted;

    object_class_property_add_enum(oc, "policy", "PaiovPolicy",
                                   &PaiovPolicy_lookup,
                                   paiov_pma_get_policy,
                                   paiov_pma_set_policy);
    object_class_property_set_description(oc, "policy",
        "performance (no host actions), balanced (default) or powersave;"
        " may be changed at run time (qom-set)");
    object_class_property_add(oc, "idle-timeout-ms", "uint32",
                              paiov_pma_get_idle_timeout,
                              paiov_pma_set_idle_timeout, NULL, NULL);
    object_class_property_set_description(oc, "idle-timeout-ms",
        "Passive idle after this long without a guest access (balanced;"
        " a quarter of it under powersave; 0: never; default 5000)");
    object_class_property_add(oc, "host-debounce-ms", "uint32",
                              paiov_pma_get_debounce, paiov_pma_set_debounce,
                              NULL, NULL);
    object_class_property_set_description(oc, "host-debounce-ms",
        "Host requests toward less power (cork, release, runtime-PM low,"
        " dropping PM QoS, raising the timer slack) are made at most this"
        " often, the last wanted level winning; those toward more power at"
        " once (0: all at once, max 10000, default 50)");
    /* each backend's own settings */
    FOR_EACH_BACKEND(ops, i) {
        if (ops->class_init) {
            ops->class_init(oc);
        }
    }
}

static const TypeInfo paiov_pma_info = {
    .name = TYPE_PAIOV_PMA,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PaiovPMA),
    .instance_init = paiov_pma_instance_init,
    .instance_finalize = paiov_pma_instance_finalize,
    .class_init = paiov_pma_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void paiov_pma_register_types(void)
{
    type_register_static(&paiov_pma_info);
}

type_init(paiov_pma_register_types);
