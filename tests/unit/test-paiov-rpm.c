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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/paiov/rpm/paths", test_paths);
    g_test_add_func("/paiov/rpm/vote-and-restore", test_vote_and_restore);
    g_test_add_func("/paiov/rpm/two-users", test_two_users);
    g_test_add_func("/paiov/rpm/dead-user", test_dead_user);
    g_test_add_func("/paiov/rpm/vanished", test_vanished);
    return g_test_run();
}
