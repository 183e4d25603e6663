/*
 * PAIOV proxy PMA host backend: runtime PM of the host device behind a
 * device (property host-device)
 *
 * The device votes low (not active) or on (active) on its host device's
 * runtime-PM knob; paiov-rpm.c keeps the knob and the votes of all QEMU
 * processes that use it.  The knobs are closed when the device goes and
 * when QEMU exits.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "paiov/paiov-rpm.h"
#include "paiov-host.h"
#include "trace.h"

static bool paiov_host_rpm_attach(PaiovPMA *pma, PaiovHost *host,
                                  Error **errp)
{
    if (!host->host_device) {
        return true;
    }
    host->rpm = paiov_rpm_open(pma->sysfs_root, host->host_device,
                               pma->runtime_dir, "host-device", errp);
    return host->rpm != NULL;
}

static bool paiov_host_rpm_present(PaiovHost *host)
{
    return host->rpm;
}

static void paiov_host_rpm_apply(PaiovPMA *pma, PaiovHost *host,
                                 PaiovPowerState state)
{
    PaiovHostRecord *rec = &host->records[PAIOV_HOST_BACKEND_RUNTIME_PM];
    const char *dev = paiov_host_dev_type(host);
    bool low = state != PAIOV_POWER_STATE_ACTIVE &&
               pma->policy != PAIOV_POLICY_PERFORMANCE;
    Error *err = NULL;
    int ret;

    paiov_host_request(host, PAIOV_HOST_BACKEND_RUNTIME_PM,
                       low ? PAIOV_HOST_ACTION_KIND_AUTO
                           : PAIOV_HOST_ACTION_KIND_ON);
    ret = paiov_rpm_vote(host->rpm, low, pma->autosuspend_delay_ms, &err);
    trace_paiov_pma_host_request(dev,
                            PaiovHostBackend_str(PAIOV_HOST_BACKEND_RUNTIME_PM),
                            PaiovHostActionKind_str(rec->action), ret);
    if (ret < 0) {
        paiov_host_failed(host, PAIOV_HOST_BACKEND_RUNTIME_PM,
                          error_get_pretty(err));
        warn_report_once("paiov: %s: host runtime PM %s failed: %s", dev,
                         PaiovHostActionKind_str(rec->action), rec->error);
        error_free(err);
    } else {
        rec->result = PAIOV_HOST_ACTION_RESULT_OK;
    }
}

static void paiov_host_rpm_release(PaiovHost *host)
{
    if (host->rpm) {
        paiov_rpm_close(host->rpm);
        host->rpm = NULL;
    }
}

static char *paiov_host_rpm_get_sysfs_root(Object *obj, Error **errp)
{
    return g_strdup(PAIOV_PMA(obj)->sysfs_root);
}

static void paiov_host_rpm_set_sysfs_root(Object *obj, const char *value,
                                          Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    g_free(pma->sysfs_root);
    pma->sysfs_root = g_strdup(value);
}

static char *paiov_host_rpm_get_runtime_dir(Object *obj, Error **errp)
{
    return g_strdup(PAIOV_PMA(obj)->runtime_dir);
}

static void paiov_host_rpm_set_runtime_dir(Object *obj, const char *value,
                                           Error **errp)
{
    PaiovPMA *pma = PAIOV_PMA(obj);

    g_free(pma->runtime_dir);
    pma->runtime_dir = g_strdup(value);
}

static void paiov_host_rpm_instance_init(PaiovPMA *pma)
{
    pma->sysfs_root = g_strdup("/sys");
    pma->runtime_dir = geteuid() ? g_build_filename(g_get_user_runtime_dir(),
                                                    "qemu-paiov", NULL)
                                 : g_strdup("/run/qemu-paiov");
    pma->autosuspend_delay_ms = 2000;
    object_property_add_uint32_ptr(OBJECT(pma), "autosuspend-delay-ms",
                                   &pma->autosuspend_delay_ms,
                                   OBJ_PROP_FLAG_READWRITE);
}

static void paiov_host_rpm_instance_finalize(PaiovPMA *pma)
{
    g_free(pma->sysfs_root);
    g_free(pma->runtime_dir);
}

static void paiov_host_rpm_class_init(ObjectClass *oc)
{
    object_class_property_add_str(oc, "sysfs-root",
                                  paiov_host_rpm_get_sysfs_root,
                                  paiov_host_rpm_set_sysfs_root);
    object_class_property_set_description(oc, "sysfs-root",
        "Where host-device paths of the devices are looked up; nothing "
        "outside it is written (default /sys)");
    object_class_property_add_str(oc, "runtime-dir",
                                  paiov_host_rpm_get_runtime_dir,
                                  paiov_host_rpm_set_runtime_dir);
    object_class_property_set_description(oc, "runtime-dir",
        "Directory shared by the QEMU processes that use the same host "
        "devices, for their runtime-PM votes (default /run/qemu-paiov, "
        "or $XDG_RUNTIME_DIR/qemu-paiov when not root); created 0700, "
        "refused unless owned by QEMU's user and writable by it only");
}

const PaiovHostBackendOps paiov_host_rpm_ops = {
    .name = "runtime-pm",
    .backend = PAIOV_HOST_BACKEND_RUNTIME_PM,
    .class_init = paiov_host_rpm_class_init,
    .instance_init = paiov_host_rpm_instance_init,
    .instance_finalize = paiov_host_rpm_instance_finalize,
    .attach = paiov_host_rpm_attach,
    .present = paiov_host_rpm_present,
    .apply = paiov_host_rpm_apply,
    .release = paiov_host_rpm_release,
};
