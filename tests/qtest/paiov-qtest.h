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
#include "libqos/pci-pc.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

typedef struct PaiovFixture {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
} PaiovFixture;

/* Find the paiov device of a started QEMU and map BAR @barno */
static inline void paiov_fixture_attach(PaiovFixture *f, int devfn,
                                        int barno)
{
    f->bus = qpci_new_pc(f->qts, NULL);
    f->dev = qpci_device_find(f->bus, devfn);
    g_assert_nonnull(f->dev);
    qpci_device_enable(f->dev);
    f->bar = qpci_iomap(f->dev, barno, NULL);
}

static inline void paiov_fixture_stop(PaiovFixture *f)
{
    g_free(f->dev);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
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

/* One integer of the query-paiov entry of the one paiov device */
static inline int64_t paiov_info_int(QTestState *qts, const char *name)
{
    QDict *info = paiov_info(qts);
    int64_t v = qdict_get_int(info, name);

    qobject_unref(info);
    return v;
}

/* The query-paiov-pma entry of the PMA at @path; the caller unrefs it */
static inline QDict *paiov_pma_info(QTestState *qts, const char *path)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-paiov-pma' }");
    QList *list = qdict_get_qlist(rsp, "return");
    QListEntry *e;
    QDict *found = NULL;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *pma = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(pma, "qom-path"), path)) {
            found = pma;
            qobject_ref(found);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(found);
    return found;
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
