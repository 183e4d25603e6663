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
 * Wait until an outgoing migration completed: STOP comes before the last
 * bytes are written, and a destination reading a file: URI too early
 * would read a partial stream.
 */
static inline void paiov_wait_migration(QTestState *qts)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        const char *status = qdict_get_try_str(qdict_get_qdict(rsp,
                                                               "return"),
                                               "status");
        bool done = status && !strcmp(status, "completed");

        g_assert_cmpstr(status ?: "", !=, "failed");
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_usleep(20 * 1000);
    }
}

/*
 * Wait until an incoming migration completed and the VM runs.  Polled:
 * the RESUME event may come before the test's QMP connection is ready,
 * and then it is never seen.
 */
static inline void paiov_wait_running(QTestState *qts)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
        const char *status = qdict_get_try_str(qdict_get_qdict(rsp,
                                                               "return"),
                                               "status");
        bool running = status && !strcmp(status, "running");

        g_assert_cmpstr(status ?: "", !=, "inmigrate-failed");
        qobject_unref(rsp);
        if (running) {
            return;
        }
        g_usleep(20 * 1000);
    }
}

#endif /* TESTS_QTEST_PAIOV_QTEST_H */
