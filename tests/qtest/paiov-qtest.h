/*
 * Helpers shared by the paiov device qtests
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_PAIOV_QTEST_H
#define TESTS_QTEST_PAIOV_QTEST_H

#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci-pc.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"

/*
 * A started QEMU with its paiov device: set up by paiov_fixture_start()
 * or paiov_fixture_attach(), or zero-initialised and filled by hand,
 * and ended by paiov_fixture_stop()
 */
typedef struct PaiovFixture {
    QOSState *qs;           /* booted through libqos (a guest allocator) */
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;        /* NULL: not looked up here (virtio) */
    QPCIBar bar;
    char *logpath;          /* QEMU's guest error log, or NULL */
} PaiovFixture;

/* How a device's qtests start QEMU (paiov_fixture_start()) */
typedef struct PaiovFixtureOpts {
    const char *args;       /* the machine and devices, before the extras */
    const char *name;       /* the guest error log: NAME-log-XXXXXX */
    int devfn;              /* the paiov device; -1: none looked up */
    int barno;              /* its BAR mapped into f->bar; -1: none */
    bool qos;               /* boot through libqos: f->qs, its allocator */
} PaiovFixtureOpts;

/* Find the device at @devfn on f->bus, enable it, map BAR @barno */
static inline void paiov_fixture_find(PaiovFixture *f, int devfn, int barno)
{
    f->dev = NULL;
    if (devfn < 0) {
        return;
    }
    f->dev = qpci_device_find(f->bus, devfn);
    g_assert_nonnull(f->dev);
    qpci_device_enable(f->dev);
    if (barno >= 0) {
        f->bar = qpci_iomap(f->dev, barno, NULL);
    }
}

/*
 * Find the paiov device of a QEMU the test started itself (f->qts, the
 * rest of @f unset) and map BAR @barno
 */
static inline void paiov_fixture_attach(PaiovFixture *f, int devfn,
                                        int barno)
{
    f->qs = NULL;
    f->logpath = NULL;
    f->bus = qpci_new_pc(f->qts, NULL);
    paiov_fixture_find(f, devfn, barno);
}

/*
 * Start QEMU with @o->args and @extra (may be NULL) and attach to the
 * paiov device as @o says; with @log, QEMU logs guest errors to a new
 * temporary file, whose text paiov_fixture_stop() returns.
 */
static inline void paiov_fixture_start(PaiovFixture *f,
                                       const PaiovFixtureOpts *o,
                                       const char *extra, bool log)
{
    g_autofree char *logopt = NULL;
    g_autofree char *cmd = NULL;

    memset(f, 0, sizeof(*f));
    if (log) {
        g_autofree char *tmpl = g_strdup_printf("%s-log-XXXXXX", o->name);
        int fd = g_file_open_tmp(tmpl, &f->logpath, NULL);

        g_assert_cmpint(fd, >=, 0);
        close(fd);
        logopt = g_strdup_printf("-d guest_errors -D %s ", f->logpath);
    }
    cmd = g_strdup_printf("%s%s%s", o->args, logopt ?: "", extra ?: "");
    if (o->qos) {
        f->qs = qtest_pc_boot("%s", cmd);
        f->qts = f->qs->qts;
        f->bus = f->qs->pcibus;
    } else {
        f->qts = qtest_init(cmd);
        f->bus = qpci_new_pc(f->qts, NULL);
    }
    paiov_fixture_find(f, o->devfn, o->barno);
}

/*
 * Quit QEMU and free the fixture; returns what QEMU logged as guest
 * errors when started with a log (the caller frees it), else NULL
 */
static inline char *paiov_fixture_stop(PaiovFixture *f)
{
    char *log = NULL;

    g_free(f->dev);
    if (f->qs) {
        qtest_shutdown(f->qs);
    } else {
        qpci_free_pc(f->bus);
        qtest_quit(f->qts);
    }
    if (f->logpath) {
        g_assert_true(g_file_get_contents(f->logpath, &log, NULL, NULL));
        unlink(f->logpath);
        g_free(f->logpath);
    }
    return log;
}

/* The query-paiov entry of the one paiov device; the caller unrefs it */
static inline QDict *paiov_info(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-paiov' }");
    QList *list = qdict_get_qlist(rsp, "return");
    QDict *info;

    g_assert_cmpint(qlist_size(list), ==, 1);
    info = qobject_to(QDict, qlist_peek(list));
    qobject_ref(info);
    qobject_unref(rsp);
    return info;
}

/*
 * Poll @command until its "status" is @want; fail on @bad.  Migration is
 * polled, not followed by events: STOP comes before the last bytes of a
 * file: migration are written, and RESUME may come before the test's QMP
 * connection is ready, and then it is never seen.
 */
static inline void paiov_wait_status(QTestState *qts, const char *command,
                                     const char *want, const char *bad)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': %s }", command);
        const char *status = qdict_get_try_str(qdict_get_qdict(rsp,
                                                               "return"),
                                               "status");
        bool done = status && !strcmp(status, want);

        g_assert_cmpstr(status ?: "", !=, bad);
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_usleep(20 * 1000);
    }
}

/* An outgoing migration completed (the whole stream is written) */
static inline void paiov_wait_migration(QTestState *qts)
{
    paiov_wait_status(qts, "query-migrate", "completed", "failed");
}

/* An incoming migration completed and the VM runs */
static inline void paiov_wait_running(QTestState *qts)
{
    paiov_wait_status(qts, "query-status", "running", "inmigrate-failed");
}

/*
 * Migrate the VM of @qts to a new temporary file and wait until the
 * whole stream is written.  Returns the "file:PATH" URI for -incoming;
 * the caller frees it and unlinks PATH (uri + 5).
 */
static inline char *paiov_migrate_to_file(QTestState *qts, const char *name)
{
    g_autofree char *tmpl = g_strdup_printf("%s-mig-XXXXXX", name);
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp(tmpl, &path, NULL);
    char *uri;

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    uri = g_strdup_printf("file:%s", path);
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate', 'arguments':"
                             " { 'uri': %s } }", uri);
    paiov_wait_migration(qts);
    return uri;
}

/*
 * Overwrite @len bytes of the virtual PSA subsection @name (e.g.
 * "paiov-es1370/vpsa") in the migration stream of @uri ("file:PATH"):
 * @off counts from its first field (0: D-state, 1: functions enabled,
 * 2-5: state, big endian, then the device's own fields).  The first
 * occurrence of the name is the subsection header (QEMU_VM_SUBSECTION,
 * name length, name, version); the stream's JSON description at its end
 * names it again.
 */
static inline void paiov_stream_patch(const char *uri, const char *name,
                                      size_t off, const void *bytes,
                                      size_t len)
{
    const char *path = uri + strlen("file:");
    size_t namelen = strlen(name);
    g_autofree char *data = NULL;
    gsize size;
    char *hdr;

    g_assert_true(g_str_has_prefix(uri, "file:"));
    g_assert_true(g_file_get_contents(path, &data, &size, NULL));
    hdr = memmem(data, size, name, namelen);
    g_assert_nonnull(hdr);
    g_assert_cmpint(hdr - data, >=, 2);
    g_assert_cmpint(hdr[-2], ==, 0x05);         /* QEMU_VM_SUBSECTION */
    g_assert_cmpint((uint8_t)hdr[-1], ==, namelen);
    g_assert_cmpint(hdr + namelen + 4 + off + len - data, <=, size);
    memcpy(hdr + namelen + 4 + off, bytes, len);
    g_assert_true(g_file_set_contents(path, data, size, NULL));
}

/* Patch the state field (a PaiovPowerState value) of a vpsa subsection */
static inline void paiov_stream_patch_state(const char *uri,
                                            const char *name,
                                            uint32_t state)
{
    uint32_t be = cpu_to_be32(state);

    paiov_stream_patch(uri, name, 2, &be, sizeof(be));
}

/*
 * Load the stream of @uri into @qts (started with -incoming defer) with
 * exit-on-error=false, and wait until the load failed: the stream must be
 * refused, and QEMU must stay up.
 */
static inline void paiov_migrate_in_refused(QTestState *qts, const char *uri)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-incoming',"
                             " 'arguments': { 'uri': %s,"
                             " 'exit-on-error': false } }", uri);
    paiov_wait_status(qts, "query-migrate", "failed", "completed");
}

/*
 * What a refused stream must not change: the query-paiov entry's state,
 * transitions and last reason
 */
typedef struct PaiovSnapshot {
    char *state;
    char *last_reason;
    int64_t transitions;
} PaiovSnapshot;

static inline void paiov_snapshot(QTestState *qts, PaiovSnapshot *snap)
{
    QDict *info = paiov_info(qts);

    snap->state = g_strdup(qdict_get_str(info, "state"));
    snap->last_reason = g_strdup(qdict_get_str(info, "last-reason"));
    snap->transitions = qdict_get_int(info, "transitions");
    qobject_unref(info);
}

static inline void paiov_assert_snapshot(QTestState *qts,
                                         PaiovSnapshot *before)
{
    PaiovSnapshot now;

    paiov_snapshot(qts, &now);
    g_assert_cmpstr(now.state, ==, before->state);
    g_assert_cmpstr(now.last_reason, ==, before->last_reason);
    g_assert_cmpint(now.transitions, ==, before->transitions);
    g_free(now.state);
    g_free(now.last_reason);
    g_free(before->state);
    g_free(before->last_reason);
}

/*
 * A guest config space read of devfn @devfn on bus 0 through ports
 * 0xcf8/0xcfc (what a guest that scans the bus does)
 */
static inline uint32_t paiov_cfg_readl(QTestState *qts, int devfn,
                                       uint8_t reg)
{
    qtest_outl(qts, 0xcf8, 0x80000000 | (devfn << 8) | reg);
    return qtest_inl(qts, 0xcfc);
}

/*
 * A refused stream: overwrite the first @len bytes of the virtual PSA
 * subsection @subsection (see paiov_stream_patch()) of the stream of @uri
 * with @patch, start a destination with @args and -incoming defer, and
 * load the stream with exit-on-error=false: it must be refused and the
 * destination's query-paiov entry must be as it was.  Returns the
 * destination, for the device's own checks and then
 * paiov_assert_alive_after_refusal().
 */
static inline QTestState *paiov_migrate_in_patched_refused(
    const char *args, const char *uri, const char *subsection,
    const uint8_t *patch, size_t len)
{
    QTestState *dst;
    PaiovSnapshot before;

    paiov_stream_patch(uri, subsection, 0, patch, len);
    dst = qtest_initf("%s -incoming defer", args);
    paiov_snapshot(dst, &before);
    paiov_migrate_in_refused(dst, uri);
    paiov_assert_snapshot(dst, &before);
    return dst;
}

/*
 * After a refused stream the destination goes on: a guest config read of
 * the device at @devfn gives @id, system_reset leaves it idle
 */
static inline void paiov_assert_alive_after_refusal(QTestState *dst,
                                                    int devfn, uint32_t id)
{
    QDict *info;

    g_assert_cmphex(paiov_cfg_readl(dst, devfn, 0), ==, id);
    qtest_qmp_assert_success(dst, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(dst, "RESET");
    info = paiov_info(dst);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "idle");
    qobject_unref(info);
}

/* Whether query-pci lists a device at @devfn of bus 0 */
static inline bool paiov_pci_listed(QTestState *qts, int devfn)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-pci' }");
    QList *buses = qdict_get_qlist(rsp, "return");
    QDict *bus0 = qobject_to(QDict, qlist_peek(buses));
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(bus0, "devices"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(dev, "slot") == devfn >> 3 &&
            qdict_get_int(dev, "function") == (devfn & 7)) {
            found = true;
        }
    }
    qobject_unref(rsp);
    return found;
}

/*
 * A failed hot-plug: device_add of @args (consumed) fails with an error
 * naming @prop, and leaves nothing on the bus at @devfn (query-pci, a
 * guest config read: no device, all ones)
 */
static inline void paiov_device_add_fails(QTestState *qts, QDict *args,
                                          const char *prop, int devfn)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'device_add',"
                           " 'arguments': %p }", args);
    const char *desc;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    g_test_message("device_add refused: %s", desc);
    g_assert_nonnull(strstr(desc, prop));
    qobject_unref(rsp);
    g_assert_false(paiov_pci_listed(qts, devfn));
    g_assert_cmphex(paiov_cfg_readl(qts, devfn, 0), ==, 0xffffffff);
}

/*
 * The entry whose "qom-path" is @path in the list that @command
 * (query-paiov, query-paiov-pma) returns; the caller unrefs it
 */
static inline QDict *paiov_find_entry(QTestState *qts, const char *command,
                                      const char *path)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': %s }", command);
    QList *list = qdict_get_qlist(rsp, "return");
    QListEntry *e;
    QDict *found = NULL;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(d, "qom-path"), path)) {
            found = d;
            qobject_ref(found);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(found);
    return found;
}

/* The query-paiov entry of the device at @path; the caller unrefs it */
static inline QDict *paiov_device_info(QTestState *qts, const char *path)
{
    return paiov_find_entry(qts, "query-paiov", path);
}

/* One integer of the query-paiov entry of the one paiov device */
static inline int64_t paiov_info_int(QTestState *qts, const char *name)
{
    QDict *info = paiov_info(qts);
    int64_t v = qdict_get_int(info, name);

    qobject_unref(info);
    return v;
}

/* One boolean of the query-paiov entry of the one paiov device */
static inline bool paiov_info_bool(QTestState *qts, const char *name)
{
    QDict *info = paiov_info(qts);
    bool v = qdict_get_bool(info, name);

    qobject_unref(info);
    return v;
}

/* Whether the one paiov device has a timer armed ("timer-armed") */
static inline bool paiov_timer_armed(QTestState *qts)
{
    return paiov_info_bool(qts, "timer-armed");
}

/* One string of that entry (e.g. "state"); the caller frees it */
static inline char *paiov_info_str(QTestState *qts, const char *name)
{
    QDict *info = paiov_info(qts);
    char *v = g_strdup(qdict_get_str(info, name));

    qobject_unref(info);
    return v;
}

/* One integer of the object @sub (e.g. "display") of that entry */
static inline int64_t paiov_info_sub_int(QTestState *qts, const char *sub,
                                         const char *name)
{
    QDict *info = paiov_info(qts);
    int64_t v = qdict_get_int(qdict_get_qdict(info, sub), name);

    qobject_unref(info);
    return v;
}

static inline bool paiov_info_sub_bool(QTestState *qts, const char *sub,
                                       const char *name)
{
    QDict *info = paiov_info(qts);
    bool v = qdict_get_bool(qdict_get_qdict(info, sub), name);

    qobject_unref(info);
    return v;
}

/* The one paiov device is in the power state @want ("idle", ...) */
#define paiov_assert_state(qts, want) do {                          \
        g_autofree char *_state = paiov_info_str((qts), "state");   \
                                                                    \
        g_assert_cmpstr(_state, ==, (want));                        \
    } while (0)

/*
 * The host action of the device at @path (NULL: the one paiov device)
 * through @backend ("audio", "runtime-pm", ...): its field @key; the
 * backend must be listed
 */
static inline QDict *paiov_host_action_ref(QTestState *qts, const char *path,
                                           const char *backend)
{
    QDict *info = path ? paiov_device_info(qts, path) : paiov_info(qts);
    QListEntry *e;
    QDict *found = NULL;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(info, "host-actions"), e) {
        QDict *a = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(a, "backend"), backend)) {
            found = a;
        }
    }
    g_assert_nonnull(found);
    qobject_ref(found);
    qobject_unref(info);
    return found;
}

static inline int64_t paiov_host_action_int(QTestState *qts, const char *path,
                                            const char *backend,
                                            const char *key)
{
    QDict *a = paiov_host_action_ref(qts, path, backend);
    int64_t v = qdict_get_int(a, key);

    qobject_unref(a);
    return v;
}

/* What the backend did last ("run", "cork", ...); the caller frees it */
static inline char *paiov_host_action(QTestState *qts, const char *path,
                                      const char *backend)
{
    QDict *a = paiov_host_action_ref(qts, path, backend);
    char *action = g_strdup(qdict_get_str(a, "action"));

    qobject_unref(a);
    return action;
}

/* The audio backend's last action for the one paiov device */
static inline char *paiov_audio_action(QTestState *qts)
{
    return paiov_host_action(qts, NULL, "audio");
}

/* The query-paiov-pma entry of the PMA at @path; the caller unrefs it */
static inline QDict *paiov_pma_info(QTestState *qts, const char *path)
{
    return paiov_find_entry(qts, "query-paiov-pma", path);
}

/* The object @sub (e.g. "coordination") of a PMA's entry; unref it */
static inline QDict *paiov_pma_sub(QTestState *qts, const char *path,
                                   const char *sub)
{
    QDict *pma = paiov_pma_info(qts, path);
    QDict *v = qdict_get_qdict(pma, sub);

    qobject_ref(v);
    qobject_unref(pma);
    return v;
}

static inline int64_t paiov_pma_int(QTestState *qts, const char *path,
                                    const char *key)
{
    QDict *pma = paiov_pma_info(qts, path);
    int64_t v = qdict_get_int(pma, key);

    qobject_unref(pma);
    return v;
}

static inline int64_t paiov_pma_sub_int(QTestState *qts, const char *path,
                                        const char *sub, const char *key)
{
    QDict *v = paiov_pma_sub(qts, path, sub);
    int64_t n = qdict_get_int(v, key);

    qobject_unref(v);
    return n;
}

static inline bool paiov_pma_sub_bool(QTestState *qts, const char *path,
                                      const char *sub, const char *key)
{
    QDict *v = paiov_pma_sub(qts, path, sub);
    bool b = qdict_get_bool(v, key);

    qobject_unref(v);
    return b;
}

/* One counter of the "coordination" object (pooling) of a PMA's entry */
static inline int64_t paiov_coord_int(QTestState *qts, const char *path,
                                      const char *key)
{
    return paiov_pma_sub_int(qts, path, "coordination", key);
}

/* The CPU latency the host PM QoS framework currently grants */
static inline int32_t paiov_cpu_dma_latency(void)
{
    int32_t value = 0;
    int fd = open("/dev/cpu_dma_latency", O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(read(fd, &value, sizeof(value)), ==, sizeof(value));
    close(fd);
    return value;
}

static inline void paiov_qom_set_str(QTestState *qts, const char *path,
                                     const char *prop, const char *value)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': %s, 'property': %s, 'value': %s } }",
                             path, prop, value);
}

/*
 * A sysfs tree for one host device, the way the runtime-PM backend finds
 * it (DIR/sys/devices/.../power, DIR/sys/bus/pci/devices/... link).
 * Returns DIR; the device's link is "bus/pci/devices/0000:00:19.0".
 */
#define PAIOV_TREE_DEV "devices/pci0000:00/0000:00:19.0"
#define PAIOV_TREE_LINK "bus/pci/devices/0000:00:19.0"

static inline char *paiov_sysfs_tree(void)
{
    char *dir = g_dir_make_tmp("paiov-qtest-XXXXXX", NULL);
    g_autofree char *power = g_build_filename(dir, "sys", PAIOV_TREE_DEV,
                                              "power", NULL);
    g_autofree char *bus = g_build_filename(dir, "sys", "bus/pci/devices",
                                            NULL);
    g_autofree char *link = g_build_filename(dir, "sys", PAIOV_TREE_LINK,
                                             NULL);
    g_autofree char *control = g_build_filename(power, "control", NULL);
    g_autofree char *delay = g_build_filename(power, "autosuspend_delay_ms",
                                              NULL);

    g_assert_nonnull(dir);
    g_assert_cmpint(g_mkdir_with_parents(power, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(bus, 0755), ==, 0);
    g_assert_cmpint(symlink("../../../" PAIOV_TREE_DEV, link), ==, 0);
    g_assert_true(g_file_set_contents(control, "on\n", -1, NULL));
    g_assert_true(g_file_set_contents(delay, "100\n", -1, NULL));
    return dir;
}

static inline char *paiov_sysfs_control(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "sys", PAIOV_TREE_DEV,
                                             "power", "control", NULL);
    char *value = NULL;

    g_assert_true(g_file_get_contents(path, &value, NULL, NULL));
    return g_strstrip(value);
}

static inline void paiov_sysfs_tree_remove(const char *dir)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

    g_assert_cmpint(system(cmd), ==, 0);
}

#endif /* TESTS_QTEST_PAIOV_QTEST_H */
