/*
 * paiovd unit tests: configuration, vote aggregation, restore journal
 *
 * Each test builds its own sysfs-like tree in a temporary directory (the
 * same code path as /sys) and runs the daemon's own functions on it.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "paiovd.h"
#include "paiov/paiov-sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEV "devices/pci0000:00/0000:00:1b.0"

typedef struct Tree {
    char *top;
    char *sys;
    char *state;
    char *conf;
} Tree;

static void put(const char *path, const char *text)
{
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* The attribute's value, without the newline (valid until the next call) */
static const char *get(Tree *t, const char *dev, const char *attr)
{
    static char value[PAIOVD_SMALL_MAX];
    g_autofree char *p = g_build_filename(t->sys, dev, "power", attr, NULL);
    g_autofree char *text = NULL;

    g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
    g_strlcpy(value, g_strchomp(text), sizeof(value));
    return value;
}

static void tree_init(Tree *t)
{
    g_autofree char *power = NULL;
    g_autofree char *bus = NULL;
    g_autofree char *link = NULL;

    t->top = g_dir_make_tmp("paiovd-test-XXXXXX", NULL);
    g_assert_nonnull(t->top);
    t->sys = g_build_filename(t->top, "sys", NULL);
    t->state = g_build_filename(t->top, "state", NULL);
    t->conf = g_build_filename(t->top, "paiovd.conf", NULL);
    power = g_build_filename(t->sys, DEV, "power", NULL);
    bus = g_build_filename(t->sys, "bus/pci/devices", NULL);
    link = g_build_filename(bus, "0000:00:1b.0", NULL);
    g_assert_cmpint(g_mkdir_with_parents(power, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(bus, 0755), ==, 0);
    g_assert_cmpint(symlink("../../../" DEV, link), ==, 0);
    {
        g_autofree char *c = g_build_filename(power, "control", NULL);
        g_autofree char *d = g_build_filename(power, "autosuspend_delay_ms",
                                              NULL);

        put(c, "on\n");
        put(d, "100\n");
    }
}

static void tree_free(Tree *t)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", t->top);

    g_assert_cmpint(system(cmd), ==, 0);
    g_free(t->top);
    g_free(t->sys);
    g_free(t->state);
    g_free(t->conf);
}

static PaiovdConfig *parse(Tree *t, const char *body, GError **err)
{
    g_autofree char *text = g_strdup_printf(
        "[paiovd]\nsysfs-root=%s\nstate-dir=%s\n%s", t->sys, t->state, body);

    return paiovd_config_parse(t->conf, text, strlen(text), err);
}

/* A valid file: every key read, the knob resolved below sysfs-root */
static void test_config_ok(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    PaiovdConfig *cfg;
    PaiovdKnob *k;

    tree_init(&t);
    cfg = parse(&t, "max-peers=8\npoll-interval-s=3\ncontrol-uids=1000\n"
                "[knob hda]\npath=bus/pci/devices/0000:00:1b.0\n"
                "devices=snd0;/machine/unattached/device[3]\n"
                "vm-names=a;b\nvm-uids=0;64055\n", &err);
    g_assert_no_error(err);
    g_assert_nonnull(cfg);
    g_assert_cmpuint(cfg->max_peers, ==, 8);
    g_assert_cmpuint(cfg->poll_interval_s, ==, 3);
    g_assert_cmpuint(cfg->n_control_uids, ==, 1);
    g_assert_cmpuint(cfg->knobs->len, ==, 1);
    k = g_ptr_array_index(cfg->knobs, 0);
    g_assert_cmpstr(k->name, ==, "hda");
    g_assert_true(g_str_has_suffix(k->device_dir, "/sys/" DEV));
    g_assert_true(paiovd_config_knob_device(k, "/machine/peripheral/snd0"));
    g_assert_true(paiovd_config_knob_device(k,
                                            "/machine/unattached/device[3]"));
    g_assert_false(paiovd_config_knob_device(k, "/machine/peripheral/snd1"));
    g_assert_false(paiovd_config_knob_device(k, "snd0"));
    /* every list given must match: name and uid */
    g_assert_true(paiovd_config_knob_matches(k, "a", "", 0));
    g_assert_true(paiovd_config_knob_matches(k, "b", NULL, 64055));
    g_assert_false(paiovd_config_knob_matches(k, "c", "", 0));
    g_assert_false(paiovd_config_knob_matches(k, "a", "", 1000));
    g_assert_false(paiovd_config_knob_matches(k, NULL, "", 0));
    paiovd_config_free(cfg);
    tree_free(&t);
}

/* Errors name the file, the line and the key */
static void test_config_errors(void)
{
    static const struct {
        const char *body;
        const char *expect;
    } cases[] = {
        { "bogus=1\n", ":4: [paiovd] bogus: unknown key" },
        { "max-peers=0\n", ":4: [paiovd] max-peers: '0' is not a number" },
        { "max-peers=12x\n", "[paiovd] max-peers: '12x' is not a number" },
        { "control-uids=root\n", "control-uids: 'root' is not a uid" },
        { "[knob a]\ndevices=x\nvm-uids=0\n",
          ":4: [knob a]: missing key 'path'" },
        { "[knob a]\npath=" DEV "\nvm-uids=0\n",
          "[knob a]: missing key 'devices'" },
        { "[knob a]\npath=" DEV "\ndevices=x\n",
          "give at least one of vm-names, vm-uuids, vm-uids" },
        { "[knob a]\npath=nonexistent\ndevices=x\nvm-uids=0\n",
          ":5: [knob a] path: " },
        { "[knob a]\npath=/etc\ndevices=x\nvm-uids=0\n",
          "outside sysfs-root" },
        { "[knob a]\npath=bus/pci/devices/../../../..\ndevices=x\n"
          "vm-uids=0\n", "outside sysfs-root" },
        { "[knob a]\npath=" DEV "\ndevices=x\nvm-uids=0\n"
          "[knob b]\npath=bus/pci/devices/0000:00:1b.0\ndevices=y\n"
          "vm-uids=0\n", ":9: [knob b] path: " },
        { "[knob a]\npath=" DEV "\ndevices=x\nvm-uids=-1\n",
          ":7: [knob a] vm-uids: '-1' is not a uid" },
        { "[knob a]\npath=" DEV "\ndevices=x\nvm-uids=0\ncolour=red\n",
          ":8: [knob a] colour: unknown key" },
        { "[other]\n", ":4: [other]: unknown section" },
        { "align-period-us=60000001\n",
          ":4: [paiovd] align-period-us: '60000001' is not a number" },
        { "throttle-interval-us=10\n",
          "[paiovd] throttle-interval-us: '10' is not a number" },
        { "[knob ]\n", "a knob needs a name" },
        { "[paiovd\n", "paiovd.conf: " },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        Tree t;
        g_autoptr(GError) err = NULL;
        PaiovdConfig *cfg;

        tree_init(&t);
        cfg = parse(&t, cases[i].body, &err);
        g_assert_null(cfg);
        g_assert_nonnull(err);
        if (!strstr(err->message, cases[i].expect) ||
            !g_str_has_prefix(err->message, t.conf)) {
            g_error("case %u: '%s' does not contain '%s'", i, err->message,
                    cases[i].expect);
        }
        tree_free(&t);
    }
}

/* The file itself: owner and mode, no link, no FIFO, bounded */
static void test_config_file(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_autofree char *link = NULL;
    g_autofree char *big = NULL;
    PaiovdConfig *cfg;

    tree_init(&t);
    text = g_strdup_printf("[paiovd]\nsysfs-root=%s\n", t.sys);
    put(t.conf, text);
    g_assert_cmpint(chmod(t.conf, 0644), ==, 0);
    cfg = paiovd_config_load(t.conf, true, &err);
    g_assert_no_error(err);
    paiovd_config_free(cfg);

    g_assert_cmpint(chmod(t.conf, 0664), ==, 0);
    cfg = paiovd_config_load(t.conf, true, &err);
    g_assert_null(cfg);
    g_assert_nonnull(strstr(err->message, "writable by group or others"));
    g_clear_error(&err);
    g_assert_cmpint(chmod(t.conf, 0644), ==, 0);

    link = g_build_filename(t.top, "link.conf", NULL);
    g_assert_cmpint(symlink(t.conf, link), ==, 0);
    cfg = paiovd_config_load(link, true, &err);
    g_assert_null(cfg);
    g_assert_true(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_LOOP));
    g_clear_error(&err);

    g_assert_cmpint(unlink(t.conf), ==, 0);
    g_assert_cmpint(mkfifo(t.conf, 0600), ==, 0);
    cfg = paiovd_config_load(t.conf, true, &err);  /* must not block */
    g_assert_null(cfg);
    g_assert_nonnull(strstr(err->message, "not a regular file"));
    g_clear_error(&err);
    g_assert_cmpint(unlink(t.conf), ==, 0);

    big = g_strnfill(PAIOVD_CONFIG_MAX + 1, '#');
    put(t.conf, big);
    cfg = paiovd_config_load(t.conf, true, &err);
    g_assert_null(cfg);
    g_assert_nonnull(strstr(err->message, "larger than"));
    tree_free(&t);
}

static PaiovdKnob *one_knob(Tree *t, PaiovdConfig **cfg)
{
    g_autoptr(GError) err = NULL;

    *cfg = parse(t, "[knob hda]\npath=bus/pci/devices/0000:00:1b.0\n"
                 "devices=snd0\nvm-uids=0\n", &err);
    g_assert_no_error(err);
    return g_ptr_array_index((*cfg)->knobs, 0);
}

/* QEMU's rule: auto only when every vote is low; originals come back */
static void test_knob_aggregate(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    PaiovdConfig *cfg;
    PaiovdKnob *k;
    int sfd;

    tree_init(&t);
    k = one_knob(&t, &cfg);
    sfd = paiovd_state_open(t.state, &err);
    g_assert_no_error(err);

    paiovd_knob_apply(k, sfd, 2, 1, 1500);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "on");
    g_assert_true(k->saved);
    paiovd_knob_apply(k, sfd, 2, 2, 1500);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "auto");
    g_assert_cmpstr(get(&t, DEV, "autosuspend_delay_ms"), ==, "1500");
    paiovd_knob_apply(k, sfd, 1, 1, 3000);
    g_assert_cmpstr(get(&t, DEV, "autosuspend_delay_ms"), ==, "3000");
    paiovd_knob_apply(k, sfd, 2, 1, 3000);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "on");
    paiovd_knob_apply(k, sfd, 1, 1, 3000);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "auto");
    /* on, delay + auto, delay, on, auto: nothing written twice */
    g_assert_cmpuint(k->writes, ==, 6);
    paiovd_knob_apply(k, sfd, 1, 1, 3000);
    g_assert_cmpuint(k->writes, ==, 6);
    paiovd_knob_apply(k, sfd, 0, 0, 0);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "on");
    g_assert_cmpstr(get(&t, DEV, "autosuspend_delay_ms"), ==, "100");
    g_assert_false(k->saved);
    g_assert_null(k->error);
    close(sfd);
    paiovd_config_free(cfg);
    tree_free(&t);
}

/* A daemon killed while the knob was auto: the next one restores it */
static void test_knob_journal(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    PaiovdConfig *cfg, *cfg2;
    PaiovdKnob *k, *k2;
    GDir *dir;
    int sfd;

    tree_init(&t);
    k = one_knob(&t, &cfg);
    sfd = paiovd_state_open(t.state, &err);
    g_assert_no_error(err);
    paiovd_knob_apply(k, sfd, 1, 1, 1500);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "auto");
    close(sfd);
    paiovd_config_free(cfg);        /* "killed": nothing restored */
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "auto");

    k2 = one_knob(&t, &cfg2);
    sfd = paiovd_state_open(t.state, &err);
    g_assert_no_error(err);
    paiovd_journal_recover(cfg2, sfd);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "on");
    g_assert_cmpstr(get(&t, DEV, "autosuspend_delay_ms"), ==, "100");
    g_assert_false(k2->saved);
    dir = g_dir_open(t.state, 0, NULL);
    g_assert_null(g_dir_read_name(dir));   /* the entry is gone */
    g_dir_close(dir);
    close(sfd);
    paiovd_config_free(cfg2);
    tree_free(&t);
}

/* A symlink or a FIFO planted as power/control is refused, not followed */
static void test_knob_planted(void)
{
    static const char *const kinds[] = { "symlink", "fifo" };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(kinds); i++) {
        Tree t;
        g_autoptr(GError) err = NULL;
        g_autofree char *control = NULL;
        g_autofree char *victim = NULL;
        g_autofree char *text = NULL;
        PaiovdConfig *cfg;
        PaiovdKnob *k;
        int sfd;

        tree_init(&t);
        k = one_knob(&t, &cfg);
        sfd = paiovd_state_open(t.state, &err);
        g_assert_no_error(err);
        control = g_build_filename(t.sys, DEV, "power/control", NULL);
        victim = g_build_filename(t.top, "victim", NULL);
        put(victim, "on\n");
        g_assert_cmpint(unlink(control), ==, 0);
        if (i == 0) {
            g_assert_cmpint(symlink(victim, control), ==, 0);
        } else {
            g_assert_cmpint(mkfifo(control, 0600), ==, 0);
        }
        paiovd_knob_apply(k, sfd, 1, 1, 1500);     /* must not block */
        g_assert_false(k->saved);
        g_assert_nonnull(k->error);
        g_assert_true(g_file_get_contents(victim, &text, NULL, NULL));
        g_assert_cmpstr(text, ==, "on\n");
        close(sfd);
        paiovd_config_free(cfg);
        tree_free(&t);
    }
}

/* The state dir: writable by others or a symlink is refused */
static void test_state_dir(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    g_autofree char *link = NULL;

    tree_init(&t);
    g_assert_cmpint(mkdir(t.state, 0777), ==, 0);
    g_assert_cmpint(chmod(t.state, 0777), ==, 0);
    g_assert_cmpint(paiovd_state_open(t.state, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "writable by nobody else"));
    g_clear_error(&err);
    g_assert_cmpint(chmod(t.state, 0700), ==, 0);
    link = g_build_filename(t.top, "state-link", NULL);
    g_assert_cmpint(symlink(t.state, link), ==, 0);
    g_assert_cmpint(paiovd_state_open(link, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "symbolic link"));
    tree_free(&t);
}

/*
 * Guards the sysfs access QEMU's runtime-PM backend and the daemon share
 * (hw/paiov/paiov-sysfs.c): each hostile case once, against the shared
 * functions themselves.  A planted link or FIFO is refused without being
 * followed or blocking; reads are bounded; a path resolving outside the
 * root is refused; a private directory that is a link or writable by
 * others (or, as root, owned by another user) is refused.
 */
static void test_sysfs_shared(void)
{
    Tree t;
    g_autofree char *power = NULL;
    g_autofree char *victim = NULL;
    g_autofree char *text = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *real = NULL;
    g_autofree char *long_text = g_strnfill(200, 'x');
    char buf[PAIOVD_SMALL_MAX];
    struct stat st;
    int pfd, fd;

    tree_init(&t);
    power = g_build_filename(t.sys, DEV, "power", NULL);
    victim = g_build_filename(t.top, "victim", NULL);
    put(victim, "on\n");

    /* the device directory is reached through its bus link, power/ not */
    dir = g_build_filename(t.sys, "bus/pci/devices/0000:00:1b.0", NULL);
    pfd = paiov_sysfs_power_dir(dir);
    g_assert_cmpint(pfd, >=, 0);
    g_assert_cmpint(paiov_sysfs_read(pfd, "control", buf, sizeof(buf)), ==,
                    0);
    g_assert_cmpstr(buf, ==, "on");
    g_assert_cmpint(paiov_sysfs_write(pfd, "control", "auto"), ==, 0);
    g_assert_cmpstr(get(&t, DEV, "control"), ==, "auto");

    /* a link: refused, the file it points to neither read nor written */
    g_assert_cmpint(symlinkat(victim, pfd, "link"), ==, 0);
    g_assert_cmpint(paiov_sysfs_read(pfd, "link", buf, sizeof(buf)), ==,
                    -ELOOP);
    g_assert_cmpint(paiov_sysfs_write(pfd, "link", "auto"), ==, -ELOOP);
    g_assert_true(g_file_get_contents(victim, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "on\n");

    /* a FIFO without a writer: refused at once, not waited on */
    g_assert_cmpint(mkfifoat(pfd, "fifo", 0600), ==, 0);
    g_assert_cmpint(paiov_sysfs_read(pfd, "fifo", buf, sizeof(buf)), ==,
                    -EINVAL);
    g_assert_cmpint(paiov_sysfs_openat(pfd, "fifo", O_RDONLY, 0), ==,
                    -EINVAL);
    /* a directory is no attribute either */
    g_assert_cmpint(mkdirat(pfd, "sub", 0700), ==, 0);
    g_assert_cmpint(paiov_sysfs_read(pfd, "sub", buf, sizeof(buf)), ==,
                    -EINVAL);

    /* a long attribute: at most len - 1 bytes, NUL terminated */
    {
        g_autofree char *big = g_build_filename(power, "big", NULL);

        put(big, long_text);
        g_assert_cmpint(paiov_sysfs_read(pfd, "big", buf, 8), ==, 0);
        g_assert_cmpstr(buf, ==, "xxxxxxx");
    }
    close(pfd);

    /* power/ itself a link: refused */
    {
        g_autofree char *moved = g_build_filename(t.top, "moved", NULL);

        g_assert_cmpint(rename(power, moved), ==, 0);
        g_assert_cmpint(symlink(moved, power), ==, 0);
        g_assert_cmpint(paiov_sysfs_power_dir(dir), <, 0);
        g_assert_cmpint(unlink(power), ==, 0);
        g_assert_cmpint(rename(moved, power), ==, 0);
    }

    /* root confinement, after every link */
    g_assert_cmpint(paiov_sysfs_resolve(t.sys, "bus/pci/devices/0000:00:1b.0",
                                        &real), ==, 0);
    g_assert_true(g_str_has_suffix(real, DEV));
    g_clear_pointer(&real, g_free);
    g_assert_cmpint(paiov_sysfs_resolve(t.sys, "..", &real), ==, -EXDEV);
    g_assert_cmpstr(real, ==, t.top);
    g_clear_pointer(&real, g_free);
    g_assert_cmpint(paiov_sysfs_resolve(t.sys, "/etc", &real), ==, -EXDEV);
    g_clear_pointer(&real, g_free);
    g_assert_cmpint(paiov_sysfs_resolve(t.sys, "nonexistent", &real), ==,
                    -ENOENT);
    g_assert_null(real);
    {
        /* a sibling whose name starts like the root is outside it */
        g_autofree char *sibling = g_strconcat(t.sys, "x", NULL);

        g_assert_cmpint(mkdir(sibling, 0700), ==, 0);
        g_assert_cmpint(paiov_sysfs_resolve(t.sys, sibling, &real), ==,
                        -EXDEV);
        g_clear_pointer(&real, g_free);
    }

    /* private directories */
    g_assert_cmpint(mkdir(t.state, 0700), ==, 0);
    fd = paiov_sysfs_open_private_dir(AT_FDCWD, t.state, &st);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_cmpint(chmod(t.state, 0770), ==, 0);
    g_assert_cmpint(paiov_sysfs_open_private_dir(AT_FDCWD, t.state, &st), ==,
                    -EACCES);
    g_assert_cmpint(st.st_mode & 07777, ==, 0770);
    g_assert_cmpint(chmod(t.state, 0700), ==, 0);
    {
        g_autofree char *link = g_build_filename(t.top, "state-link", NULL);

        g_assert_cmpint(symlink(t.state, link), ==, 0);
        g_assert_cmpint(paiov_sysfs_open_private_dir(AT_FDCWD, link, NULL),
                        ==, -ELOOP);
    }
    if (geteuid() == 0) {
        g_assert_cmpint(chown(t.state, 65534, 65534), ==, 0);
        g_assert_cmpint(paiov_sysfs_open_private_dir(AT_FDCWD, t.state, &st),
                        ==, -EPERM);
        g_assert_cmpint(st.st_uid, ==, 65534);
    } else {
        g_test_message("not root: a directory of another user skipped");
    }
    tree_free(&t);
}

static GHashTable *policies(const char *first, ...)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          g_free);
    va_list ap;
    const char *k;

    va_start(ap, first);
    for (k = first; k; k = va_arg(ap, const char *)) {
        g_hash_table_insert(h, g_strdup(k),
                            g_strdup(va_arg(ap, const char *)));
    }
    va_end(ap);
    return h;
}

static unsigned journal_entries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    unsigned count = 0;

    g_assert_nonnull(d);
    while ((n = g_dir_read_name(d))) {
        count += g_str_has_prefix(n, "throttle.");
    }
    return count;
}

/*
 * Guards the throttle journal's key (issue 13): it was what QEMU claims
 * (query-uuid, query-name), so a QEMU claiming another VM's name took
 * that VM's journaled policies after a killed daemon (and the VM's own
 * restore was skipped: the entry was gone), or overwrote them with its
 * own, or removed them.  Now the entry belongs to the QEMU process (pid
 * and start time, as the kernel reports them): another process, or the
 * same pid reused by a new process, finds nothing, whatever it claims.
 */
static void test_throttle_journal(void)
{
    Tree t;
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) vm_saved = policies("/objects/pma0", "balanced",
                                              NULL);
    g_autoptr(GHashTable) evil_saved = policies("/objects/pma0",
                                                "performance", NULL);
    g_autoptr(GHashTable) got = NULL;
#define WEB1 .name = "web1", .uuid = "5a1c4e2e-4b8b-4d59-9a47-2f1c3b6c9d10"
    PaiovdVmId vm = { .pid = getpid(), WEB1 };
    PaiovdVmId evil = { .pid = getppid(), WEB1 };
    PaiovdVmId reused = { .pid = getpid(), WEB1 };
    PaiovdVmId unknown = { .pid = getpid(), WEB1 };
#undef WEB1
    guint64 st2;
    int sfd;

    tree_init(&t);
    sfd = paiovd_state_open(t.state, &err);
    g_assert_no_error(err);
    g_assert_true(paiovd_proc_start_time(vm.pid, &vm.start_time));
    g_assert_true(paiovd_proc_start_time(vm.pid, &st2));
    g_assert_cmpuint(st2, ==, vm.start_time);
    g_assert_true(paiovd_proc_start_time(evil.pid, &evil.start_time));
    reused.start_time = vm.start_time + 1;
    g_assert_false(paiovd_proc_start_time(0, &st2));
    g_assert_false(paiovd_proc_start_time(-1, &st2));

    /* the VM throttled, the daemon killed: its entry is there */
    paiovd_throttle_journal_write(sfd, &vm, vm_saved, "vm");
    g_assert_cmpuint(journal_entries(t.state), ==, 1);

    /* a hostile QEMU claiming the VM's name and UUID: nothing for it */
    got = policies(NULL);
    paiovd_throttle_journal_load(sfd, &evil, got);
    g_assert_cmpuint(g_hash_table_size(got), ==, 0);
    /* a new process with the same pid: nothing either */
    paiovd_throttle_journal_load(sfd, &reused, got);
    g_assert_cmpuint(g_hash_table_size(got), ==, 0);
    /* a process whose start time is unknown has no journal */
    paiovd_throttle_journal_load(sfd, &unknown, got);
    g_assert_cmpuint(g_hash_table_size(got), ==, 0);
    g_assert_null(paiovd_throttle_journal_name(&unknown));

    /* it throttled, lifted: the VM's entry neither overwritten nor gone */
    paiovd_throttle_journal_write(sfd, &evil, evil_saved, "evil");
    paiovd_throttle_journal_remove(sfd, &evil);
    paiovd_throttle_journal_remove(sfd, &reused);
    g_assert_cmpuint(journal_entries(t.state), ==, 1);

    /* the VM rejoins: its own policy back, the entry removed when lifted */
    paiovd_throttle_journal_load(sfd, &vm, got);
    g_assert_cmpuint(g_hash_table_size(got), ==, 1);
    g_assert_cmpstr(g_hash_table_lookup(got, "/objects/pma0"), ==,
                    "balanced");
    paiovd_throttle_journal_remove(sfd, &vm);
    g_assert_cmpuint(journal_entries(t.state), ==, 0);

    /* the next start removes the entries of processes that are gone */
    paiovd_throttle_journal_write(sfd, &vm, vm_saved, "vm");
    paiovd_throttle_journal_write(sfd, &reused, evil_saved, "reused");
    g_assert_cmpuint(journal_entries(t.state), ==, 2);
    paiovd_throttle_journal_sweep(sfd);
    g_assert_cmpuint(journal_entries(t.state), ==, 1);
    g_hash_table_remove_all(got);
    paiovd_throttle_journal_load(sfd, &vm, got);
    g_assert_cmpstr(g_hash_table_lookup(got, "/objects/pma0"), ==,
                    "balanced");
    close(sfd);
    tree_free(&t);
}

static void zone(Tree *t, const char *name, const char *temp,
                 const char *const *trips)
{
    g_autofree char *d = g_build_filename(t->sys, "class/thermal", name,
                                          NULL);
    g_autofree char *p = g_build_filename(d, "temp", NULL);
    int i;

    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
    put(p, temp);
    for (i = 0; trips && trips[i]; i += 2) {
        g_autofree char *ty = g_strdup_printf("%s/trip_point_%d_type", d,
                                              i / 2);
        g_autofree char *te = g_strdup_printf("%s/trip_point_%d_temp", d,
                                              i / 2);

        put(ty, trips[i]);
        put(te, trips[i + 1]);
    }
}

static PaiovdZone *find_zone(GPtrArray *zones, const char *name)
{
    guint i;

    for (i = 0; i < zones->len; i++) {
        PaiovdZone *z = g_ptr_array_index(zones, i);

        if (!strcmp(z->name, name)) {
            return z;
        }
    }
    return NULL;
}

/*
 * Guards thermal urgency (issue 13 item 6): the lowest passive or
 * critical trip of each zone counts (active ones start fans and are left
 * out, a zone without a readable temp is left out); throttling starts at
 * the trip and, once on, ends only below trip - hysteresis.
 */
static void test_thermal(void)
{
    static const char *const z0[] = {
        "active\n", "30000\n", "critical\n", "95000\n", "passive\n",
        "80000\n", NULL
    };
    static const char *const z1[] = { "active\n", "40000\n", NULL };
    Tree t;
    g_autoptr(GPtrArray) zones = NULL;
    PaiovdZone *z;

    tree_init(&t);
    zone(&t, "thermal_zone0", "79999\n", z0);
    zone(&t, "thermal_zone1", "99000\n", z1);
    zone(&t, "thermal_zone2", "hot\n", NULL);
    zones = paiovd_thermal_scan(t.sys);
    g_assert_cmpuint(zones->len, ==, 2);
    z = find_zone(zones, "thermal_zone0");
    g_assert_nonnull(z);
    g_assert_cmpint(z->temp_mc, ==, 79999);
    g_assert_cmpint(z->trip_mc, ==, 80000);
    g_assert_cmpstr(z->trip_type, ==, "passive");
    g_assert_cmpstr(find_zone(zones, "thermal_zone1")->trip_type, ==, "");

    g_assert_false(paiovd_thermal_hot(zones, false, 5000));
    z->temp_mc = 80000;
    g_assert_true(paiovd_thermal_hot(zones, false, 5000));
    z->temp_mc = 75001;                 /* within the hysteresis */
    g_assert_true(paiovd_thermal_hot(zones, true, 5000));
    g_assert_false(paiovd_thermal_hot(zones, false, 5000));
    z->temp_mc = 75000;
    g_assert_false(paiovd_thermal_hot(zones, true, 5000));
    tree_free(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/paiovd/config/ok", test_config_ok);
    g_test_add_func("/paiovd/config/errors", test_config_errors);
    g_test_add_func("/paiovd/config/file", test_config_file);
    g_test_add_func("/paiovd/knob/aggregate", test_knob_aggregate);
    g_test_add_func("/paiovd/knob/journal", test_knob_journal);
    g_test_add_func("/paiovd/knob/planted", test_knob_planted);
    g_test_add_func("/paiovd/state-dir", test_state_dir);
    g_test_add_func("/paiovd/sysfs-shared", test_sysfs_shared);
    g_test_add_func("/paiovd/throttle-journal", test_throttle_journal);
    g_test_add_func("/paiovd/thermal", test_thermal);
    return g_test_run();
}
