/*
 * Unit tests of the runtime-PM sysfs knobs (hw/paiov/paiov-rpm.c)
 *
 * Each test builds a sysfs-like tree in a temporary directory: the code
 * path is the one used on /sys.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "paiov/paiov-rpm.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define DEV "devices/pci0000:00/0000:00:1b.0"
#define LINK "bus/pci/devices/0000:00:1b.0"

typedef struct Tree {
    char *top;
    char *root;
    char *rundir;
} Tree;

static char *attr_path(Tree *t, const char *attr)
{
    return g_strdup_printf("%s/" DEV "/power/%s", t->root, attr);
}

static char *attr(Tree *t, const char *name)
{
    g_autofree char *path = attr_path(t, name);
    char *value = NULL;

    g_assert_true(g_file_get_contents(path, &value, NULL, NULL));
    return g_strchomp(value);
}

static void tree_init(Tree *t)
{
    g_autofree char *power = NULL;
    g_autofree char *link = NULL;
    g_autofree char *control = NULL;
    g_autofree char *delay = NULL;

    t->top = g_dir_make_tmp("paiov-rpm-XXXXXX", NULL);
    g_assert_nonnull(t->top);
    t->root = g_build_filename(t->top, "sys", NULL);
    t->rundir = g_build_filename(t->top, "run", NULL);
    power = g_strdup_printf("%s/" DEV "/power", t->root);
    g_assert_cmpint(g_mkdir_with_parents(power, 0755), ==, 0);
    link = g_strdup_printf("%s/bus/pci/devices", t->root);
    g_assert_cmpint(g_mkdir_with_parents(link, 0755), ==, 0);
    g_free(link);
    link = g_strdup_printf("%s/" LINK, t->root);
    g_assert_cmpint(symlink("../../../" DEV, link), ==, 0);
    control = attr_path(t, "control");
    delay = attr_path(t, "autosuspend_delay_ms");
    g_assert_true(g_file_set_contents(control, "on\n", -1, NULL));
    g_assert_true(g_file_set_contents(delay, "100\n", -1, NULL));
}

static void tree_free(Tree *t)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", t->top);

    g_assert_cmpint(system(cmd), ==, 0);
    g_free(t->top);
    g_free(t->root);
    g_free(t->rundir);
}

static PaiovRpmKnob *open_knob(Tree *t)
{
    return paiov_rpm_open(t->root, LINK, t->rundir, "host-device",
                          &error_abort);
}

/* The knob's state directory: RUNDIR/<resolved device, '/' -> '!'> */
static char *knob_dir(Tree *t)
{
    g_autofree char *dev = g_strdup_printf("%s/" DEV, t->root);
    g_autofree char *real = realpath(dev, NULL);

    g_assert_nonnull(real);
    g_strdelimit(real, "/", '!');
    return g_build_filename(t->rundir, real + 1, NULL);
}

static char *knob_file(Tree *t, const char *name)
{
    g_autofree char *dir = knob_dir(t);

    return g_build_filename(dir, name, NULL);
}

/* Create the runtime and state directories the way a user would find them */
static void make_knob_dir(Tree *t)
{
    g_autofree char *dir = knob_dir(t);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
}

static char *read_file(const char *path)
{
    char *value = NULL;

    g_assert_true(g_file_get_contents(path, &value, NULL, NULL));
    return value;
}

/*
 * A test that would block forever (a FIFO opened for reading, a lock
 * waited for) ends the run with a message instead of hanging it.
 */
static void hang_alarm(int sig)
{
    static const char msg[] = "Bail out! paiov-rpm: hung (no answer in 10 s)\n";

    if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing to do */
    }
    _exit(1);
}

/*
 * Open the knob and vote low; a refused runtime state is reported by
 * either step.  Returns the knob (or NULL) and sets *err to the error.
 */
static PaiovRpmKnob *open_and_vote(Tree *t, Error **err)
{
    PaiovRpmKnob *k = paiov_rpm_open(t->root, LINK, t->rundir,
                                     "host-device", err);

    if (k && paiov_rpm_vote(k, true, 2000, err) == 0) {
        g_assert_null(*err);
    }
    return k;
}

#define assert_attr(t, name, value) do {                \
        g_autofree char *_v = attr(t, name);            \
        g_assert_cmpstr(_v, ==, value);                 \
    } while (0)

/* Guards "nothing outside sysfs-root is ever opened for write" */
static void test_paths(void)
{
    Tree t;
    Error *err = NULL;
    g_autofree char *evil = NULL;
    g_autofree char *outside = NULL;
    static const char *const bad[] = {
        "..", "bus/..//../..", "bus/evil", "/etc", "devices", "nonexistent",
    };
    size_t i;

    tree_init(&t);
    evil = g_strdup_printf("%s/bus/evil", t.root);
    g_assert_cmpint(symlink(t.top, evil), ==, 0);
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_assert_null(paiov_rpm_open(t.root, bad[i], t.rundir,
                                     "host-device", &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(error_get_pretty(err), "host-device"));
        error_free(err);
        err = NULL;
    }
    /* power/control a symlink to a file outside: refused */
    outside = g_strdup_printf("%s/control-outside", t.top);
    g_assert_true(g_file_set_contents(outside, "on", -1, NULL));
    {
        g_autofree char *control = attr_path(&t, "control");

        unlink(control);
        g_assert_cmpint(symlink(outside, control), ==, 0);
        g_assert_null(paiov_rpm_open(t.root, LINK, t.rundir, "host-device",
                                     &err));
        error_free_or_abort(&err);
    }
    tree_free(&t);
}

/* Guards the basic cycle: low -> auto + delay, on -> on, close restores */
static void test_vote_and_restore(void)
{
    Tree t;
    PaiovRpmKnob *k;

    tree_init(&t);
    k = open_knob(&t);
    g_assert_cmpint(paiov_rpm_vote(k, true, 2000, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    assert_attr(&t, "autosuspend_delay_ms", "2000");
    g_assert_cmpstr(paiov_rpm_control(k), ==, "auto");
    g_assert_cmpint(paiov_rpm_vote(k, false, 0, &error_abort), ==, 0);
    assert_attr(&t, "control", "on");
    g_assert_cmpint(paiov_rpm_vote(k, true, 2000, &error_abort), ==, 0);
    paiov_rpm_close(k);
    assert_attr(&t, "control", "on");
    assert_attr(&t, "autosuspend_delay_ms", "100");
    tree_free(&t);
}

/* Guards sharing: auto only while every user is low */
static void test_two_users(void)
{
    Tree t;
    PaiovRpmKnob *a, *b;

    tree_init(&t);
    a = open_knob(&t);
    b = open_knob(&t);
    paiov_rpm_vote(a, true, 500, &error_abort);
    assert_attr(&t, "control", "auto");
    paiov_rpm_vote(b, false, 0, &error_abort);
    assert_attr(&t, "control", "on");
    paiov_rpm_vote(b, true, 700, &error_abort);
    assert_attr(&t, "control", "auto");
    assert_attr(&t, "autosuspend_delay_ms", "700");
    paiov_rpm_close(a);
    assert_attr(&t, "control", "auto");
    paiov_rpm_close(b);
    assert_attr(&t, "control", "on");
    assert_attr(&t, "autosuspend_delay_ms", "100");
    tree_free(&t);
}

/*
 * Guards against a VM killed with SIGKILL: its vote is ignored once it is
 * dead, and the last live user still restores the original values.
 */
static void test_dead_user(void)
{
    Tree t;
    PaiovRpmKnob *k;
    pid_t pid;
    int status;
    int pipefd[2];
    char c;

    tree_init(&t);
    g_assert_cmpint(pipe(pipefd), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        PaiovRpmKnob *child = open_knob(&t);

        paiov_rpm_vote(child, false, 0, &error_abort);
        g_assert_cmpint(write(pipefd[1], "x", 1), ==, 1);
        pause();
        _exit(0);
    }
    g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);
    k = open_knob(&t);
    paiov_rpm_vote(k, true, 300, &error_abort);
    assert_attr(&t, "control", "on");       /* the child is alive and on */

    kill(pid, SIGKILL);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    paiov_rpm_vote(k, true, 300, &error_abort);
    assert_attr(&t, "control", "auto");     /* its vote is gone */
    paiov_rpm_close(k);
    assert_attr(&t, "control", "on");
    assert_attr(&t, "autosuspend_delay_ms", "100");
    close(pipefd[0]);
    close(pipefd[1]);
    tree_free(&t);
}

/* Guards a knob that vanishes (device hot-removed): reported, not fatal */
static void test_vanished(void)
{
    Tree t;
    PaiovRpmKnob *k;
    Error *err = NULL;
    g_autofree char *control = NULL;

    tree_init(&t);
    k = open_knob(&t);
    control = attr_path(&t, "control");
    g_assert_cmpint(unlink(control), ==, 0);
    g_assert_cmpint(paiov_rpm_vote(k, true, 300, &err), <, 0);
    g_assert_nonnull(strstr(error_get_pretty(err), "power/control"));
    error_free(err);
    paiov_rpm_close(k);
    tree_free(&t);
}

/*
 * Guards item 5 of issue 11: a symlink planted in the state directory as
 * the lock, the original values or a vote (the names are predictable)
 * made a root QEMU create, truncate or read files anywhere.  Now every
 * file is opened without following links: the target is untouched, the
 * knob is not written, and the error is reported.
 */
static void test_planted_symlink(void)
{
    static const char *const names[] = { "lock", "orig", "vote" };
    size_t i;
    int n;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        Tree t;
        PaiovRpmKnob *k;
        Error *err = NULL;
        g_autofree char *target = NULL;
        g_autofree char *content = NULL;

        tree_init(&t);
        make_knob_dir(&t);
        target = g_build_filename(t.top, "precious", NULL);
        if (!strcmp(names[i], "lock")) {
            g_autofree char *lock = knob_file(&t, "lock");

            /* dangling: following it would create the target */
            g_assert_cmpint(symlink(target, lock), ==, 0);
        } else if (!strcmp(names[i], "orig")) {
            g_autofree char *orig = knob_file(&t, "orig");

            g_assert_true(g_file_set_contents(target, "auto\n5\n", -1,
                                              NULL));
            g_assert_cmpint(symlink(target, orig), ==, 0);
        } else {
            g_assert_true(g_file_set_contents(target, "precious\n", -1,
                                              NULL));
            /* every name this process may pick for its vote */
            for (n = 0; n < 64; n++) {
                g_autofree char *vname = g_strdup_printf("vote.%d.%d",
                                                         (int)getpid(), n);
                g_autofree char *vote = knob_file(&t, vname);

                g_assert_cmpint(symlink(target, vote), ==, 0);
            }
        }

        k = open_and_vote(&t, &err);
        g_test_message("planted %s: %s", names[i],
                       err ? error_get_pretty(err) : "no error");
        g_assert_nonnull(err);
        error_free(err);
        assert_attr(&t, "control", "on");
        assert_attr(&t, "autosuspend_delay_ms", "100");
        paiov_rpm_close(k);
        assert_attr(&t, "control", "on");
        assert_attr(&t, "autosuspend_delay_ms", "100");
        if (!strcmp(names[i], "lock")) {
            g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));
        } else {
            content = read_file(target);
            g_assert_cmpstr(content, ==, !strcmp(names[i], "orig") ?
                            "auto\n5\n" : "precious\n");
        }
        tree_free(&t);
    }
}

/*
 * Guards item 5 of issue 11: a FIFO planted as another user's vote (or as
 * the original values, or the lock) hung the vote in open(2), with the
 * knob's lock held (QEMU's monitor dead, the other VMs blocked).  Now it
 * is refused at once and reported.
 */
static void test_planted_fifo(void)
{
    static const char *const names[] = { "vote.1.0", "orig", "lock" };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        Tree t;
        PaiovRpmKnob *k;
        Error *err = NULL;
        g_autofree char *fifo = NULL;

        tree_init(&t);
        make_knob_dir(&t);
        fifo = knob_file(&t, names[i]);
        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        alarm(10);
        k = open_and_vote(&t, &err);
        g_test_message("FIFO %s: %s", names[i],
                       err ? error_get_pretty(err) : "no error");
        g_assert_nonnull(err);
        error_free(err);
        assert_attr(&t, "control", "on");
        paiov_rpm_close(k);
        alarm(0);
        assert_attr(&t, "control", "on");
        tree_free(&t);
    }
}

/*
 * Guards item 5 of issue 11: a runtime directory (or a knob's state
 * directory) that another user can write to, owned by another user, or
 * that is a symlink was used as is.  Now it is refused at open (device
 * realize) with a message naming the runtime-dir property, and nothing is
 * created in it.
 */
static void test_unsafe_rundir(void)
{
    enum { RUN_0777, RUN_LINK, KNOB_0777, KNOB_LINK, RUN_UID, KNOB_UID };
    int c;

    for (c = RUN_0777; c <= KNOB_UID; c++) {
        Tree t;
        Error *err = NULL;
        g_autofree char *knob = NULL;
        g_autofree char *elsewhere = NULL;
        g_autofree char *lock = NULL;
        const char *dir;

        if ((c == RUN_UID || c == KNOB_UID) && geteuid() != 0) {
            g_test_message("not root: directories of another user skipped");
            continue;
        }
        tree_init(&t);
        knob = knob_dir(&t);
        elsewhere = g_build_filename(t.top, "elsewhere", NULL);
        g_assert_cmpint(mkdir(elsewhere, 0700), ==, 0);
        dir = c == RUN_0777 || c == RUN_LINK || c == RUN_UID ? t.rundir
                                                             : knob;
        if (dir == knob) {
            g_assert_cmpint(mkdir(t.rundir, 0700), ==, 0);
        }
        switch (c) {
        case RUN_LINK:
        case KNOB_LINK:
            g_assert_cmpint(symlink(elsewhere, dir), ==, 0);
            break;
        default:
            g_assert_cmpint(mkdir(dir, 0700), ==, 0);
            if (c == RUN_UID || c == KNOB_UID) {
                g_assert_cmpint(chown(dir, 65534, 65534), ==, 0);
            } else {
                g_assert_cmpint(chmod(dir, 0777), ==, 0);
            }
        }
        g_assert_null(paiov_rpm_open(t.root, LINK, t.rundir, "host-device",
                                     &err));
        g_assert_nonnull(err);
        g_test_message("case %d: %s", c, error_get_pretty(err));
        g_assert_nonnull(strstr(error_get_pretty(err), "runtime-dir"));
        error_free(err);
        /* nothing was created through the link or in the unsafe dir */
        g_assert_cmpint(rmdir(elsewhere), ==, 0);
        lock = g_build_filename(knob, "lock", NULL);
        g_assert_false(g_file_test(lock, G_FILE_TEST_EXISTS));
        assert_attr(&t, "control", "on");
        tree_free(&t);
    }
}

/*
 * Guards item 5 of issue 11: the knob's lock was waited for without a
 * bound, so a process holding it (stuck, or hostile) froze QEMU under its
 * big lock.  Now the wait is bounded: the vote fails and says so, but is
 * recorded in the voter's own file, so the next user that gets the lock
 * counts it; the voter's next vote applies again.
 */
static void test_lock_held(void)
{
    Tree t;
    PaiovRpmKnob *k, *b;
    Error *err = NULL;
    g_autofree char *lock = NULL;
    pid_t pid;
    int status;
    int pipefd[2];
    char c;
    gint64 start;

    tree_init(&t);
    k = open_knob(&t);
    g_assert_cmpint(paiov_rpm_vote(k, true, 300, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    lock = knob_file(&t, "lock");
    g_assert_cmpint(pipe(pipefd), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        int fd = open(lock, O_RDWR | O_CREAT, 0600);

        /* gone with the test, even when it bails out on a hang */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || flock(fd, LOCK_EX) < 0 ||
            write(pipefd[1], "x", 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);

    alarm(10);
    start = g_get_monotonic_time();
    g_assert_cmpint(paiov_rpm_vote(k, false, 0, &err), <, 0);
    g_test_message("lock held: vote failed after %" PRId64 " us: %s",
                   g_get_monotonic_time() - start, error_get_pretty(err));
    alarm(0);
    g_assert_nonnull(strstr(error_get_pretty(err), "lock"));
    error_free(err);
    assert_attr(&t, "control", "auto");     /* not applied */

    kill(pid, SIGKILL);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    /* the next user counts the vote that could not be applied */
    b = open_knob(&t);
    g_assert_cmpint(paiov_rpm_vote(b, true, 300, &error_abort), ==, 0);
    assert_attr(&t, "control", "on");
    paiov_rpm_close(b);
    assert_attr(&t, "control", "on");
    g_assert_cmpint(paiov_rpm_vote(k, true, 300, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    paiov_rpm_close(k);
    assert_attr(&t, "control", "on");
    assert_attr(&t, "autosuspend_delay_ms", "100");
    close(pipefd[0]);
    close(pipefd[1]);
    tree_free(&t);
}

/*
 * Guards item 5 of issue 11: the scan of the votes is bounded and takes
 * only names of the vote pattern.  A file that merely starts with "vote."
 * is neither read nor removed; a directory with more entries than the
 * bound is not trusted to hold every vote, so the knob stays "on" (and is
 * not restored either: another vote may be among those not looked at).
 */
static void test_scan_bounded(void)
{
    Tree t;
    PaiovRpmKnob *k;
    g_autofree char *other = NULL;
    int n;

    tree_init(&t);
    make_knob_dir(&t);
    other = knob_file(&t, "vote.1.0.bak");
    g_assert_true(g_file_set_contents(other, "on\n", -1, NULL));
    k = open_knob(&t);
    g_assert_cmpint(paiov_rpm_vote(k, true, 300, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    g_assert_true(g_file_test(other, G_FILE_TEST_EXISTS));

    for (n = 0; n < 2000; n++) {
        g_autofree char *name = g_strdup_printf("junk.%d", n);
        g_autofree char *path = knob_file(&t, name);

        g_assert_true(g_file_set_contents(path, "", -1, NULL));
    }
    g_assert_cmpint(paiov_rpm_vote(k, true, 300, &error_abort), ==, 0);
    assert_attr(&t, "control", "on");

    /* nor whether it is the last user: restored once the crowd is gone */
    for (n = 0; n < 2000; n++) {
        g_autofree char *name = g_strdup_printf("junk.%d", n);
        g_autofree char *path = knob_file(&t, name);

        g_assert_cmpint(unlink(path), ==, 0);
    }
    paiov_rpm_close(k);
    assert_attr(&t, "control", "on");
    assert_attr(&t, "autosuspend_delay_ms", "100");
    tree_free(&t);
}

/*
 * Guards item 8 of issue 11: on a PCI device whose driver does not use
 * autosuspend, power/autosuspend_delay_ms fails to read and to write
 * (EIO).  That was fatal, so power/control was never written.  Here the
 * attribute is a directory (reads and writes fail); control is written
 * anyway, the delay is neither written nor restored, control is restored.
 */
static void test_delay_unusable(void)
{
    Tree t;
    PaiovRpmKnob *k;
    g_autofree char *delay = NULL;

    tree_init(&t);
    delay = attr_path(&t, "autosuspend_delay_ms");
    g_assert_cmpint(unlink(delay), ==, 0);
    g_assert_cmpint(mkdir(delay, 0755), ==, 0);
    k = open_knob(&t);
    g_assert_cmpint(paiov_rpm_vote(k, true, 2000, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    g_assert_cmpstr(paiov_rpm_control(k), ==, "auto");
    g_assert_cmpint(paiov_rpm_vote(k, false, 0, &error_abort), ==, 0);
    assert_attr(&t, "control", "on");
    g_assert_cmpint(paiov_rpm_vote(k, true, 2000, &error_abort), ==, 0);
    assert_attr(&t, "control", "auto");
    paiov_rpm_close(k);
    assert_attr(&t, "control", "on");
    g_assert_true(g_file_test(delay, G_FILE_TEST_IS_DIR));
    tree_free(&t);
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = hang_alarm };

    g_test_init(&argc, &argv, NULL);
    sigaction(SIGALRM, &sa, NULL);
    g_test_add_func("/paiov/rpm/paths", test_paths);
    g_test_add_func("/paiov/rpm/vote-and-restore", test_vote_and_restore);
    g_test_add_func("/paiov/rpm/two-users", test_two_users);
    g_test_add_func("/paiov/rpm/dead-user", test_dead_user);
    g_test_add_func("/paiov/rpm/vanished", test_vanished);
    g_test_add_func("/paiov/rpm/planted-symlink", test_planted_symlink);
    g_test_add_func("/paiov/rpm/planted-fifo", test_planted_fifo);
    g_test_add_func("/paiov/rpm/unsafe-rundir", test_unsafe_rundir);
    g_test_add_func("/paiov/rpm/lock-held", test_lock_held);
    g_test_add_func("/paiov/rpm/scan-bounded", test_scan_bounded);
    g_test_add_func("/paiov/rpm/delay-unusable", test_delay_unusable);
    return g_test_run();
}
