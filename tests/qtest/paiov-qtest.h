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

#endif /* TESTS_QTEST_PAIOV_QTEST_H */
