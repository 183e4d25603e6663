/*
 * paiovd: host-side coordinator of the proxy PMAs of several QEMUs
 *
 * One unix stream socket (socket-activated by systemd, or bound by the
 * daemon) takes two kinds of peers, told apart by their first line:
 *
 * - a QEMU: an extra QMP monitor of QEMU connected as a client,
 *     -chardev socket,id=paiovd,path=SOCK,server=off,reconnect-ms=1000
 *     -mon chardev=paiovd,mode=control
 *   QEMU speaks first (the QMP greeting).  The daemon negotiates
 *   capabilities, learns who the VM is (SO_PEERCRED, query-name,
 *   query-uuid), reads query-paiov and query-paiov-pma, follows
 *   PAIOV_POWER_STATE_CHANGE, and votes on the knobs the configuration
 *   maps to the VM's paiov devices.  When the connection ends (exit,
 *   crash, SIGKILL of QEMU) the VM's votes go with it.
 *
 * - a control client (paiovctl): its first line is a command,
 *     {"execute": "status"}
 *     {"execute": "set", "arguments": {"vm": NAME|UUID|ID,
 *        "property": "policy", "value": "powersave", "pma": PATH}}
 *   allowed to root, the daemon's user and control-uids.
 *
 * Every peer is untrusted: lines are bounded, so are the lines per
 * second, the handshake time and the time to answer; whatever breaks a
 * rule is dropped with a log line, and nothing it sent is used as a path.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include "paiovd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A QEMU's query-paiov of many devices fits; a control line is short */
#define VM_LINE_MAX     (1024 * 1024)
#define CTL_LINE_MAX    (64 * 1024)
#define OUT_MAX         (8 * 1024 * 1024)
#define MAX_DEVICES     256
#define MAX_PMAS        64
#define CTL_IDLE_S      60
/* QMP answers nest 5 deep; json-glib's parser recurses per level */
#define MAX_DEPTH       64
/* Bytes a peer may send per second: many full-size answers */
#define MAX_BYTES_PER_S (16 * 1024 * 1024)

#define SD_LISTEN_FDS_START 3

typedef enum PeerState {
    PEER_NEW,           /* nothing received yet */
    PEER_CAPS,          /* QMP greeting seen, qmp_capabilities sent */
    PEER_IDENT,         /* asking who it is and what it has */
    PEER_READY,         /* a joined VM */
    PEER_CTL,           /* a control client */
} PeerState;

typedef enum PendingKind {
    P_CAPS, P_NAME, P_UUID, P_PAIOV, P_PMA, P_DELAY, P_SET,
    /* coordination: answers only logged, a QEMU may lack the property */
    P_COORD, P_NETDEV, P_FILTER, P_UNFILTER, P_LIST,
} PendingKind;

typedef struct Pending {
    PendingKind kind;
    char *arg;              /* P_DELAY: the PMA path */
    guint ctl_peer;         /* P_SET: who asked */
    guint set_req;          /* P_SET: its request */
    gint64 sent_us;
} Pending;

typedef struct Pma {
    char *policy;
    guint policy_set;       /* id of our last qom-set of it; 0: none */
    uint32_t delay_ms;
} Pma;

typedef struct SetReq {
    guint id;
    unsigned waiting;
    JsonArray *errors;
    JsonNode *req_id;       /* the control client's "id", echoed */
} SetReq;

typedef struct Peer {
    guint id;
    int fd;
    guint in_watch;
    guint out_watch;
    GString *in;
    GString *out;
    PeerState state;
    pid_t pid;
    guint64 start_time;     /* of that pid, read at accept; 0: unknown */
    uid_t uid;
    gid_t gid;
    char *name;             /* NULL: not (yet) known, "" : none */
    char *uuid;
    gint64 connected_us;
    gint64 joined_us;
    gint64 last_poll_us;
    gint64 last_line_us;
    guint window_lines;
    gsize window_bytes;
    gint64 window_start_us;
    guint next_cmd;
    guint reply_id;         /* of the reply being handled */
    GHashTable *pending;    /* id -> Pending */
    unsigned ident_left;
    JsonArray *devices;     /* the last query-paiov, states kept current */
    GHashTable *pmas;       /* path -> Pma */
    unsigned refresh_left;
    bool refresh_again;
    guint64 events;
    guint64 commands;
    GHashTable *sets;       /* control peers: id -> SetReq */
    guint next_set;

    /* thermal throttling of this VM */
    bool throttled;
    GHashTable *saved_policy;   /* PMA path -> policy before throttling */
    GPtrArray *filters;         /* ids of the filter objects added */
} Peer;

static PaiovdConfig *cfg;
static int state_fd = -1;
static GList *peers;
static guint next_peer_id = 1;
static GMainLoop *loop;
static guint64 dropped_total;
static gint64 start_us;

/* thermal urgency */
typedef enum ThrottleMode { T_AUTO, T_ON, T_OFF } ThrottleMode;
static const char *const throttle_modes[] = { "auto", "on", "off", NULL };
static ThrottleMode throttle_mode;
static bool host_hot;               /* past a trip, with hysteresis */
static bool throttle_active;
static GPtrArray *zones;            /* the last scan */
static guint64 throttle_changes;
static bool exiting;                /* SIGTERM: lifted, waiting to exit */
static guint thermal_source;        /* polling, only while a VM is joined */

#define THROTTLE_FILTER_PREFIX "paiovd-throttle-"

static const char *peer_label(Peer *p)
{
    static char buf[160];

    snprintf(buf, sizeof(buf), "peer %u (pid %d uid %u%s%s)", p->id,
             (int)p->pid, (unsigned)p->uid, p->name && *p->name ? " vm " : "",
             p->name && *p->name ? p->name : "");
    return buf;
}

static void pending_free(gpointer data)
{
    Pending *pd = data;

    g_free(pd->arg);
    g_free(pd);
}

static void pma_free(gpointer data)
{
    Pma *pma = data;

    g_free(pma->policy);
    g_free(pma);
}

static void set_req_free(gpointer data)
{
    SetReq *r = data;

    json_array_unref(r->errors);
    if (r->req_id) {
        json_node_unref(r->req_id);
    }
    g_free(r);
}

static Peer *peer_by_id(guint id)
{
    GList *l;

    for (l = peers; l; l = l->next) {
        if (((Peer *)l->data)->id == id) {
            return l->data;
        }
    }
    return NULL;
}

/* -- votes ------------------------------------------------------------- */

static const char *obj_str(JsonObject *o, const char *key)
{
    JsonNode *n = o ? json_object_get_member(o, key) : NULL;

    if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_STRING) {
        return NULL;
    }
    return json_node_get_string(n);
}

/*
 * QEMU's rule (paiov_pma_runtime_pm): a device votes low when it is not
 * active and its PMA's policy is not performance.
 */
static bool device_votes_low(Peer *p, JsonObject *dev, uint32_t *delay)
{
    const char *state = obj_str(dev, "state");
    const char *pma_path = obj_str(dev, "pma");
    Pma *pma = pma_path ? g_hash_table_lookup(p->pmas, pma_path) : NULL;

    *delay = pma ? pma->delay_ms : PAIOVD_DEFAULT_DELAY_MS;
    if (pma && pma->policy && !strcmp(pma->policy, "performance")) {
        return false;
    }
    return state && strcmp(state, "active") != 0;
}

static bool peer_votes_on(Peer *p, PaiovdKnob *k)
{
    return p->state == PEER_READY &&
           paiovd_config_knob_matches(k, p->name, p->uuid, p->uid);
}

static void recompute(void)
{
    unsigned i, j;
    GList *l;

    for (i = 0; i < cfg->knobs->len; i++) {
        PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);
        unsigned voters = 0, low = 0;
        uint32_t delay = 0;

        for (l = peers; l; l = l->next) {
            Peer *p = l->data;

            if (!peer_votes_on(p, k) || !p->devices) {
                continue;
            }
            for (j = 0; j < json_array_get_length(p->devices); j++) {
                JsonObject *dev = json_array_get_object_element(p->devices,
                                                                j);
                const char *path = obj_str(dev, "qom-path");
                uint32_t d;

                if (!path || !paiovd_config_knob_device(k, path)) {
                    continue;
                }
                voters++;
                if (device_votes_low(p, dev, &d)) {
                    low++;
                    delay = MAX(delay, d);
                }
            }
        }
        paiovd_knob_apply(k, state_fd, voters, low, delay);
    }
}

/* -- output ------------------------------------------------------------ */

static void peer_drop(Peer *p, const char *why);
static bool printable(const char *s);
static void schedule_tick(void);

static gboolean peer_out_ready(int fd, GIOCondition cond, gpointer opaque);

/* Returns false when the peer was dropped */
static bool peer_flush(Peer *p)
{
    while (p->out->len) {
        ssize_t n = send(p->fd, p->out->str, p->out->len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            peer_drop(p, g_strerror(errno));
            return false;
        }
        g_string_erase(p->out, 0, n);
    }
    if (p->out->len && !p->out_watch) {
        p->out_watch = g_unix_fd_add(p->fd, G_IO_OUT, peer_out_ready, p);
    } else if (!p->out->len && p->out_watch) {
        g_source_remove(p->out_watch);
        p->out_watch = 0;
    }
    return true;
}

static gboolean peer_out_ready(int fd, GIOCondition cond, gpointer opaque)
{
    Peer *p = opaque;

    p->out_watch = 0;
    peer_flush(p);
    return G_SOURCE_REMOVE;
}

static bool peer_send(Peer *p, JsonNode *msg)
{
    g_autofree char *text = json_to_string(msg, FALSE);

    if (p->out->len + strlen(text) + 1 > OUT_MAX) {
        peer_drop(p, "does not read what it is sent");
        return false;
    }
    g_string_append(p->out, text);
    g_string_append_c(p->out, '\n');
    return peer_flush(p);
}

/* Send a QMP command to a VM; @args may be NULL; takes @pd */
static bool vm_command(Peer *p, const char *cmd, JsonNode *args,
                       Pending *pd)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) msg = NULL;
    guint id = ++p->next_cmd;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, cmd);
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, id);
    if (args) {
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, args);
    }
    json_builder_end_object(b);
    msg = json_builder_get_root(b);
    pd->sent_us = g_get_monotonic_time();
    g_hash_table_insert(p->pending, GUINT_TO_POINTER(id), pd);
    p->commands++;
    return peer_send(p, msg);
}

static bool vm_simple(Peer *p, const char *cmd, PendingKind kind)
{
    Pending *pd = g_new0(Pending, 1);

    pd->kind = kind;
    return vm_command(p, cmd, NULL, pd);
}

static bool vm_refresh(Peer *p)
{
    if (p->refresh_left) {
        p->refresh_again = true;
        return true;
    }
    p->refresh_again = false;
    p->refresh_left = 2;
    p->last_poll_us = g_get_monotonic_time();
    return vm_simple(p, "query-paiov", P_PAIOV) &&
           vm_simple(p, "query-paiov-pma", P_PMA);
}

static bool vm_get_delay(Peer *p, const char *pma_path)
{
    Pending *pd = g_new0(Pending, 1);
    JsonObject *args = json_object_new();
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_object_set_string_member(args, "path", pma_path);
    json_object_set_string_member(args, "property", "autosuspend-delay-ms");
    json_node_take_object(n, args);
    pd->kind = P_DELAY;
    pd->arg = g_strdup(pma_path);
    return vm_command(p, "qom-get", n, pd);
}

/* A command whose answer is only logged when it is an error */
static bool vm_coord_command(Peer *p, const char *cmd, JsonObject *args,
                             PendingKind kind, const char *arg)
{
    Pending *pd = g_new0(Pending, 1);
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, args);
    pd->kind = kind;
    pd->arg = g_strdup(arg);
    return vm_command(p, cmd, n, pd);
}

static bool vm_qom_set_str(Peer *p, const char *path, const char *prop,
                           const char *value)
{
    JsonObject *a = json_object_new();

    json_object_set_string_member(a, "path", path);
    json_object_set_string_member(a, "property", prop);
    json_object_set_string_member(a, "value", value);
    return vm_coord_command(p, "qom-set", a, P_COORD, prop);
}

/*
 * Set a PMA's policy and know it at once: a poll answered before QEMU
 * saw this set must not bring the old policy back (pma_take), or the
 * next throttle would save, and later restore, the throttle's own
 * powersave.  A set that fails is logged; the next poll corrects it.
 */
static bool vm_set_policy(Peer *p, const char *path, Pma *pma,
                          const char *value)
{
    g_autofree char *v = g_strdup(value);

    if (!vm_qom_set_str(p, path, "policy", v)) {
        return false;
    }
    if (pma) {
        g_free(pma->policy);
        pma->policy = g_steal_pointer(&v);
        pma->policy_set = p->next_cmd;
    }
    return true;
}

static bool vm_qom_set_bool(Peer *p, const char *path, const char *prop,
                            bool value)
{
    JsonObject *a = json_object_new();

    json_object_set_string_member(a, "path", path);
    json_object_set_string_member(a, "property", prop);
    json_object_set_boolean_member(a, "value", value);
    return vm_coord_command(p, "qom-set", a, P_COORD, prop);
}

static bool vm_qom_set_int(Peer *p, const char *path, const char *prop,
                           gint64 value)
{
    JsonObject *a = json_object_new();

    json_object_set_string_member(a, "path", path);
    json_object_set_string_member(a, "property", prop);
    json_object_set_int_member(a, "value", value);
    return vm_coord_command(p, "qom-set", a, P_COORD, prop);
}

/*
 * Pooling: every PMA of the host gets the same grid on CLOCK_MONOTONIC
 * (QEMU's get_clock() is the same clock in every process).
 */
static bool vm_coord(Peer *p)
{
    GHashTableIter it;
    gpointer key;

    if (!cfg->align_period_us) {
        return true;
    }
    g_hash_table_iter_init(&it, p->pmas);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (!vm_qom_set_int(p, key, "align-period-us",
                            cfg->align_period_us) ||
            !vm_qom_set_int(p, key, "align-phase-us",
                            cfg->align_phase_us)) {
            return false;
        }
    }
    return true;
}

static bool vm_del_filter(Peer *p, const char *id)
{
    JsonObject *a = json_object_new();

    json_object_set_string_member(a, "id", id);
    return vm_coord_command(p, "object-del", a, P_UNFILTER, id);
}

/*
 * Which QEMU process the VM is, for its throttle journal
 * (throttle-journal.c): never what it says it is
 */
static PaiovdVmId vm_id(Peer *p)
{
    return (PaiovdVmId){ .pid = p->pid, .start_time = p->start_time,
                         .name = p->name, .uuid = p->uuid };
}

static void throttle_journal_write(Peer *p)
{
    PaiovdVmId id = vm_id(p);

    paiovd_throttle_journal_write(state_fd, &id, p->saved_policy,
                                  peer_label(p));
}

static void throttle_journal_remove(Peer *p)
{
    PaiovdVmId id = vm_id(p);

    paiovd_throttle_journal_remove(state_fd, &id);
}

/* A previous daemon's journal of this VM into p->saved_policy */
static void throttle_journal_load(Peer *p)
{
    PaiovdVmId id = vm_id(p);

    paiovd_throttle_journal_load(state_fd, &id, p->saved_policy);
}

/*
 * Throttle a VM or lift it: its PMAs' policy to powersave (the previous
 * one saved) and their displays at the idle rate (display-idle-rate,
 * cleared with the policy's restore), and every network device's netdev
 * behind a filter-buffer
 * (QEMU's own: packets released every throttle-interval-us), found by
 * asking each device for its "netdev" property.
 */
static bool vm_throttle(Peer *p, bool on)
{
    GHashTableIter it;
    gpointer key, value;
    unsigned i;

    if (p->throttled == on) {
        return true;
    }
    p->throttled = on;
    if (on) {
        g_hash_table_iter_init(&it, p->pmas);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            Pma *pma = value;

            if (!g_hash_table_contains(p->saved_policy, key)) {
                g_hash_table_insert(p->saved_policy, g_strdup(key),
                                    g_strdup(pma->policy ? pma->policy
                                                         : "balanced"));
            }
            if (!vm_set_policy(p, key, pma, "powersave") ||
                !vm_qom_set_bool(p, key, "display-idle-rate", true)) {
                return false;
            }
        }
        throttle_journal_write(p);
        for (i = 0; p->devices && i < json_array_get_length(p->devices);
             i++) {
            JsonObject *dev = json_array_get_object_element(p->devices, i);
            const char *path = obj_str(dev, "qom-path");
            JsonObject *a;

            if (!path) {
                continue;
            }
            a = json_object_new();
            json_object_set_string_member(a, "path", path);
            json_object_set_string_member(a, "property", "netdev");
            if (!vm_coord_command(p, "qom-get", a, P_NETDEV, path)) {
                return false;
            }
        }
        return true;
    }
    for (i = 0; i < p->filters->len; i++) {
        if (!vm_del_filter(p, g_ptr_array_index(p->filters, i))) {
            return false;
        }
    }
    g_ptr_array_set_size(p->filters, 0);
    g_hash_table_iter_init(&it, p->saved_policy);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        Pma *pma = g_hash_table_lookup(p->pmas, key);

        if (pma && (!vm_set_policy(p, key, pma, value) ||
                    !vm_qom_set_bool(p, key, "display-idle-rate", false))) {
            return false;
        }
    }
    g_hash_table_remove_all(p->saved_policy);
    throttle_journal_remove(p);
    return true;
}

/* A netdev of a throttled VM: put it behind a filter-buffer */
static bool vm_add_filter(Peer *p, const char *netdev)
{
    g_autofree char *id = g_strdup_printf(THROTTLE_FILTER_PREFIX "%s",
                                          netdev);
    JsonObject *a = json_object_new();

    json_object_set_string_member(a, "qom-type", "filter-buffer");
    json_object_set_string_member(a, "id", id);
    json_object_set_string_member(a, "netdev", netdev);
    json_object_set_int_member(a, "interval", cfg->throttle_interval_us);
    return vm_coord_command(p, "object-add", a, P_FILTER, id);
}

static void throttle_update(void)
{
    bool want = throttle_mode == T_ON ||
                (throttle_mode == T_AUTO && host_hot);
    GList *l, *next;

    if (want == throttle_active || exiting) {
        return;
    }
    throttle_active = want;
    throttle_changes++;
    paiovd_log("throttle %s (mode %s, host %s)", want ? "on" : "off",
               throttle_modes[throttle_mode], host_hot ? "hot" : "cool");
    for (l = peers; l; l = next) {
        Peer *p = l->data;

        next = l->next;
        if (p->state == PEER_READY) {
            vm_throttle(p, want);
        }
    }
}

static gboolean thermal_poll(gpointer opaque)
{
    bool hot, any = false;
    unsigned i;
    GList *l;

    for (l = peers; l; l = l->next) {
        any |= ((Peer *)l->data)->state == PEER_READY;
    }
    if (!any && throttle_mode != T_ON) {
        /* nobody to throttle: no wakeups; the next join polls at once */
        thermal_source = 0;
        return G_SOURCE_REMOVE;
    }

    if (zones) {
        g_ptr_array_unref(zones);
    }
    zones = paiovd_thermal_scan(cfg->sysfs_root);
    hot = paiovd_thermal_hot(zones, host_hot, cfg->thermal_hysteresis_mc);
    if (hot != host_hot) {
        for (i = 0; i < zones->len; i++) {
            PaiovdZone *z = g_ptr_array_index(zones, i);

            if (z->trip_type[0]) {
                paiovd_log("thermal: %s at %d mC, %s trip at %d mC",
                           z->name, z->temp_mc, z->trip_type, z->trip_mc);
            }
        }
        paiovd_log("thermal: host %s", hot ? "past a trip point"
                                              : "cool again");
        host_hot = hot;
    }
    throttle_update();
    return G_SOURCE_CONTINUE;
}

/* -- control replies --------------------------------------------------- */

static bool ctl_reply(Peer *c, JsonNode *req_id, JsonNode *ret,
                      const char *error)
{
    g_autoptr(JsonNode) msg = json_node_new(JSON_NODE_OBJECT);
    JsonObject *o = json_object_new();

    if (error) {
        JsonObject *e = json_object_new();

        json_object_set_string_member(e, "class", "GenericError");
        json_object_set_string_member(e, "desc", error);
        json_object_set_object_member(o, "error", e);
        if (ret) {
            json_node_unref(ret);
        }
    } else {
        if (!ret) {
            ret = json_node_new(JSON_NODE_OBJECT);
            json_node_take_object(ret, json_object_new());
        }
        json_object_set_member(o, "return", ret);
    }
    if (req_id) {
        json_object_set_member(o, "id", json_node_copy(req_id));
    }
    json_node_take_object(msg, o);
    return peer_send(c, msg);
}

static void set_req_done(guint ctl_id, guint set_id, const char *error)
{
    Peer *c = peer_by_id(ctl_id);
    SetReq *r = c && c->sets ? g_hash_table_lookup(c->sets,
                                                   GUINT_TO_POINTER(set_id))
                             : NULL;

    if (!r) {
        return;
    }
    if (error) {
        json_array_add_string_element(r->errors, error);
    }
    if (--r->waiting) {
        return;
    }
    if (json_array_get_length(r->errors)) {
        g_autoptr(GString) all = g_string_new("");
        unsigned i;

        for (i = 0; i < json_array_get_length(r->errors); i++) {
            g_string_append_printf(all, "%s%s", i ? "; " : "",
                                   json_array_get_string_element(r->errors,
                                                                 i));
        }
        ctl_reply(c, r->req_id, NULL, all->str);
    } else {
        ctl_reply(c, r->req_id, NULL, NULL);
    }
    if (peer_by_id(ctl_id)) {
        g_hash_table_remove(c->sets, GUINT_TO_POINTER(set_id));
    }
}

/* -- peers ------------------------------------------------------------- */

static void peer_free(Peer *p)
{
    GHashTableIter it;
    gpointer key, value;

    if (p->in_watch) {
        g_source_remove(p->in_watch);
    }
    if (p->out_watch) {
        g_source_remove(p->out_watch);
    }
    close(p->fd);
    /* control clients waiting for this VM get their answer */
    g_hash_table_iter_init(&it, p->pending);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        Pending *pd = value;

        if (pd->kind == P_SET) {
            set_req_done(pd->ctl_peer, pd->set_req, "the VM went away");
        }
    }
    g_hash_table_destroy(p->pending);
    g_hash_table_destroy(p->pmas);
    g_hash_table_destroy(p->saved_policy);
    g_ptr_array_free(p->filters, TRUE);
    if (p->sets) {
        g_hash_table_destroy(p->sets);
    }
    if (p->devices) {
        json_array_unref(p->devices);
    }
    g_string_free(p->in, TRUE);
    g_string_free(p->out, TRUE);
    g_free(p->name);
    g_free(p->uuid);
    g_free(p);
}

static void peer_drop(Peer *p, const char *why)
{
    bool voted = p->state == PEER_READY;

    if (!g_list_find(peers, p)) {
        return;
    }
    paiovd_log("%s: %s %s", peer_label(p),
               p->state == PEER_READY ? "left:" :
               p->state == PEER_CTL ? "control client gone:" : "dropped:",
               why);
    if (p->state != PEER_READY && p->state != PEER_CTL) {
        dropped_total++;
    }
    peers = g_list_remove(peers, p);
    peer_free(p);
    if (voted) {
        recompute();
    }
}

static bool ctl_allowed(Peer *p)
{
    gsize i;

    if (p->uid == 0 || p->uid == geteuid()) {
        return true;
    }
    for (i = 0; i < cfg->n_control_uids; i++) {
        if (cfg->control_uids[i] == p->uid) {
            return true;
        }
    }
    return false;
}

/*
 * The VM's identity and devices are known: it votes from now on, gets
 * the grid and, while the host is throttled, is throttled.  False when
 * it was dropped meanwhile.
 */
static bool vm_joined(Peer *p)
{
    unsigned i, n = 0;
    g_autoptr(GString) knobs = g_string_new("");
    JsonObject *a;

    p->state = PEER_READY;
    p->joined_us = g_get_monotonic_time();
    for (i = 0; i < cfg->knobs->len; i++) {
        PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);

        if (paiovd_config_knob_matches(k, p->name, p->uuid, p->uid)) {
            g_string_append_printf(knobs, " %s", k->name);
            n++;
        }
    }
    paiovd_log("%s: joined: name '%s' uuid %s, %u device(s), knobs:%s",
               peer_label(p), p->name ? p->name : "",
               p->uuid ? p->uuid : "-",
               p->devices ? json_array_get_length(p->devices) : 0,
               n ? knobs->str : " none");
    recompute();
    if (!vm_coord(p)) {
        return false;
    }
    a = json_object_new();
    json_object_set_string_member(a, "path", "/objects");
    if (!vm_coord_command(p, "qom-list", a, P_LIST, "/objects")) {
        return false;
    }
    throttle_journal_load(p);
    if (throttle_active && !vm_throttle(p, true)) {
        return false;
    }
    if (!throttle_active && g_hash_table_size(p->saved_policy)) {
        /* a killed daemon's throttle: the policies back */
        paiovd_log("%s: policies of a previous daemon's throttle restored",
                   peer_label(p));
        p->throttled = true;
        if (!vm_throttle(p, false)) {
            return false;
        }
    }
    if (cfg->thermal_interval_s && !thermal_source) {
        guint id = p->id;

        thermal_source = g_timeout_add_seconds(cfg->thermal_interval_s,
                                               thermal_poll, NULL);
        thermal_poll(NULL);         /* may throttle, and drop, any VM */
        return peer_by_id(id) != NULL;
    }
    return true;
}

/*
 * Names, UUIDs, QOM paths and types end up in log lines, in paiovctl's
 * table on a terminal and in Prometheus labels: printable ASCII only,
 * at most 255 bytes (QEMU's ids and names are).
 */
static bool printable(const char *s)
{
    return paiovd_printable(s);
}

static bool valid_state(const char *s)
{
    return s && (!strcmp(s, "active") || !strcmp(s, "idle") ||
                 !strcmp(s, "d3hot") || !strcmp(s, "passive-idle"));
}

/* One element of a query-paiov answer: a device as QEMU sends it */
static bool device_ok(JsonObject *o)
{
    return o && printable(obj_str(o, "qom-path")) &&
           (!obj_str(o, "type") || printable(obj_str(o, "type"))) &&
           (!obj_str(o, "pma") || printable(obj_str(o, "pma"))) &&
           valid_state(obj_str(o, "state"));
}

/* The whole answer checked: it becomes the VM's device list */
static void devices_take(Peer *p, JsonArray *a)
{
    if (p->devices) {
        json_array_unref(p->devices);
    }
    p->devices = json_array_ref(a);
}

/* One element of a query-paiov-pma answer: a PMA and its policy */
static bool pma_ok(JsonObject *o)
{
    return printable(obj_str(o, "qom-path")) &&
           printable(obj_str(o, "policy"));
}

/* Take one checked PMA at once; false when the peer was dropped */
static bool pma_take(Peer *p, JsonObject *o)
{
    const char *path = obj_str(o, "qom-path");
    Pma *pma = g_hash_table_lookup(p->pmas, path);

    if (!pma) {
        pma = g_new0(Pma, 1);
        pma->delay_ms = PAIOVD_DEFAULT_DELAY_MS;
        g_hash_table_insert(p->pmas, g_strdup(path), pma);
        if (!vm_get_delay(p, path)) {
            return false;
        }
    }
    if (p->reply_id > pma->policy_set) {
        /* asked after our last set of it: QEMU's word is current */
        g_free(pma->policy);
        pma->policy = g_strdup(obj_str(o, "policy"));
    }
    return true;
}

/* What the walker over a query-paiov* answer does for one command */
typedef struct ReplyKind {
    unsigned max;
    const char *not_array;
    const char *too_many;
    const char *malformed;
    bool (*element_ok)(JsonObject *o);      /* o is NULL for a non-object */
    bool (*take_element)(Peer *p, JsonObject *o);   /* optional */
    void (*take_all)(Peer *p, JsonArray *a);        /* optional */
} ReplyKind;

static const ReplyKind reply_paiov = {
    .max = MAX_DEVICES,
    .not_array = "query-paiov: not an array",
    .too_many = "query-paiov: too many devices",
    .malformed = "query-paiov: malformed device",
    .element_ok = device_ok,
    .take_all = devices_take,
};

static const ReplyKind reply_pma = {
    .max = MAX_PMAS,
    .not_array = "query-paiov-pma: not an array",
    .too_many = "query-paiov-pma: too many PMAs",
    .malformed = "query-paiov-pma: malformed PMA",
    .element_ok = pma_ok,
    .take_element = pma_take,
};

/*
 * A query-paiov or query-paiov-pma answer: an array of at most
 * @kind->max objects, each checked (and taken, when the kind takes them
 * one by one) in order, then the whole array taken.  False with @why
 * when it is not what QEMU sends; false with @why NULL when the peer
 * was dropped while taking it.
 */
static bool take_reply(Peer *p, const ReplyKind *kind, JsonNode *ret,
                       const char **why)
{
    JsonArray *a;
    unsigned i;

    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        *why = kind->not_array;
        return false;
    }
    a = json_node_get_array(ret);
    if (json_array_get_length(a) > kind->max) {
        *why = kind->too_many;
        return false;
    }
    for (i = 0; i < json_array_get_length(a); i++) {
        JsonNode *n = json_array_get_element(a, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n)
                                                 : NULL;

        if (!kind->element_ok(o)) {
            *why = kind->malformed;
            return false;
        }
        if (kind->take_element && !kind->take_element(p, o)) {
            return false;
        }
    }
    if (kind->take_all) {
        kind->take_all(p, a);
    }
    return true;
}

/* The answer to one of our commands; false when the peer was dropped */
static bool vm_reply(Peer *p, JsonObject *msg)
{
    JsonNode *idn = json_object_get_member(msg, "id");
    JsonNode *ret = json_object_get_member(msg, "return");
    JsonObject *err = NULL;
    const char *why = NULL;
    Pending *pd;
    gint64 id;

    if (!idn || !JSON_NODE_HOLDS_VALUE(idn) ||
        json_node_get_value_type(idn) != G_TYPE_INT64) {
        peer_drop(p, "a reply with no id of ours");
        return false;
    }
    id = json_node_get_int(idn);
    if (id <= 0 || id > G_MAXUINT ||
        !g_hash_table_steal_extended(p->pending, GUINT_TO_POINTER(id), NULL,
                                     (gpointer *)&pd)) {
        peer_drop(p, "a reply to nothing asked");
        return false;
    }
    p->reply_id = id;
    if (json_object_has_member(msg, "error")) {
        JsonNode *e = json_object_get_member(msg, "error");

        err = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
        ret = NULL;
    }

    switch (pd->kind) {
    case P_CAPS:
        if (err || !ret) {
            why = "qmp_capabilities refused";
            break;
        }
        p->state = PEER_IDENT;
        p->ident_left = 4;
        p->refresh_left = 2;
        if (!vm_simple(p, "query-name", P_NAME) ||
            !vm_simple(p, "query-uuid", P_UUID) ||
            !vm_simple(p, "query-paiov", P_PAIOV) ||
            !vm_simple(p, "query-paiov-pma", P_PMA)) {
            pending_free(pd);
            return false;
        }
        break;
    case P_NAME:
    case P_UUID: {
        JsonObject *o = ret && JSON_NODE_HOLDS_OBJECT(ret) ?
                        json_node_get_object(ret) : NULL;
        const char *v = obj_str(o, pd->kind == P_NAME ? "name" : "UUID");

        if (!o || (v && !printable(v))) {
            why = "malformed query-name/query-uuid";
            break;
        }
        if (pd->kind == P_NAME) {
            p->name = g_strdup(v ? v : "");
        } else {
            p->uuid = g_strdup(v ? v : "");
        }
        p->ident_left--;
        break;
    }
    case P_PAIOV:
    case P_PMA:
        /* a QEMU without paiov answers CommandNotFound: no devices */
        if (!err && !take_reply(p, pd->kind == P_PAIOV ? &reply_paiov
                                                       : &reply_pma,
                                ret, &why)) {
            if (!why) {
                pending_free(pd);
                return false;   /* dropped while asking for a delay */
            }
            break;
        }
        if (p->state == PEER_IDENT) {
            p->ident_left--;
        }
        if (--p->refresh_left == 0) {
            if (p->state == PEER_READY) {
                recompute();
            }
            if (p->refresh_again && !vm_refresh(p)) {
                pending_free(pd);
                return false;
            }
        }
        break;
    case P_DELAY: {
        Pma *pma = g_hash_table_lookup(p->pmas, pd->arg);
        bool is_int = ret && JSON_NODE_HOLDS_VALUE(ret) &&
                      json_node_get_value_type(ret) == G_TYPE_INT64;
        gint64 v = is_int ? json_node_get_int(ret) : -1;

        if (pma && v >= 0 && v <= G_MAXUINT32) {
            pma->delay_ms = v;
            if (p->state == PEER_READY) {
                recompute();
            }
        }
        break;
    }
    case P_COORD:
    case P_UNFILTER:
        if (err) {
            paiovd_log("%s: %s %s: %s", peer_label(p),
                       pd->kind == P_COORD ? "qom-set" : "object-del",
                       pd->arg, obj_str(err, "desc") ?: "error");
        }
        break;
    case P_NETDEV:
        /* not a network device: no such property, nothing to do */
        if (!err && ret && JSON_NODE_HOLDS_VALUE(ret) &&
            json_node_get_value_type(ret) == G_TYPE_STRING) {
            const char *nd = json_node_get_string(ret);

            if (!printable(nd)) {
                why = "qom-get netdev: malformed";
                break;
            }
            if (p->throttled && *nd && !vm_add_filter(p, nd)) {
                pending_free(pd);
                return false;
            }
        }
        break;
    case P_FILTER:
        if (err) {
            paiovd_log("%s: object-add %s: %s", peer_label(p), pd->arg,
                       obj_str(err, "desc") ?: "error");
        } else if (!p->throttled) {
            /* lifted while it was being added */
            if (!vm_del_filter(p, pd->arg)) {
                pending_free(pd);
                return false;
            }
        } else {
            g_ptr_array_add(p->filters, g_strdup(pd->arg));
        }
        break;
    case P_LIST: {
        /* filters a previous daemon left: lift them */
        JsonArray *a = !err && ret && JSON_NODE_HOLDS_ARRAY(ret) ?
                       json_node_get_array(ret) : NULL;
        unsigned i;

        for (i = 0; a && i < json_array_get_length(a) && i < 4096; i++) {
            JsonNode *en = json_array_get_element(a, i);
            JsonObject *o = JSON_NODE_HOLDS_OBJECT(en) ?
                            json_node_get_object(en) : NULL;
            const char *name = obj_str(o, "name");

            if (name && printable(name) &&
                g_str_has_prefix(name, THROTTLE_FILTER_PREFIX) &&
                !p->throttled && !vm_del_filter(p, name)) {
                pending_free(pd);
                return false;
            }
        }
        break;
    }
    case P_SET:
        set_req_done(pd->ctl_peer, pd->set_req,
                     err ? (obj_str(err, "desc") ?: "error") : NULL);
        if (!err && !vm_refresh(p)) {
            pending_free(pd);
            return false;
        }
        break;
    }
    pending_free(pd);
    if (why) {
        peer_drop(p, why);
        return false;
    }
    if (p->state == PEER_IDENT && !p->ident_left) {
        return vm_joined(p);
    }
    return true;
}

static bool vm_event(Peer *p, JsonObject *msg)
{
    const char *ev = obj_str(msg, "event");
    JsonNode *dn = json_object_get_member(msg, "data");
    JsonObject *data = dn && JSON_NODE_HOLDS_OBJECT(dn) ?
                       json_node_get_object(dn) : NULL;
    const char *path, *state;
    unsigned i;

    if (!ev) {
        peer_drop(p, "an event without a name");
        return false;
    }
    p->events++;
    if (strcmp(ev, "PAIOV_POWER_STATE_CHANGE") != 0) {
        return true;
    }
    path = obj_str(data, "qom-path");
    state = obj_str(data, "new");
    if (!printable(path) || !valid_state(state)) {
        peer_drop(p, "malformed PAIOV_POWER_STATE_CHANGE");
        return false;
    }
    for (i = 0; p->devices && i < json_array_get_length(p->devices); i++) {
        JsonObject *dev = json_array_get_object_element(p->devices, i);

        if (!g_strcmp0(obj_str(dev, "qom-path"), path)) {
            json_object_set_string_member(dev, "state", state);
        }
    }
    if (p->state == PEER_READY) {
        recompute();
        /* costs and states from the source: the event is rate-limited */
        return vm_refresh(p);
    }
    return true;
}

/* -- control commands -------------------------------------------------- */

static JsonNode *status_node(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gint64 now = g_get_monotonic_time();
    unsigned i, j;
    GList *l;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "uptime-s");
    json_builder_add_int_value(b, (now - start_us) / G_USEC_PER_SEC);
    json_builder_set_member_name(b, "dropped-peers");
    json_builder_add_int_value(b, dropped_total);
    json_builder_set_member_name(b, "vms");
    json_builder_begin_array(b);
    for (l = peers; l; l = l->next) {
        Peer *p = l->data;
        GHashTableIter it;
        gpointer key, value;

        if (p->state != PEER_READY) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, p->id);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, p->name);
        json_builder_set_member_name(b, "uuid");
        json_builder_add_string_value(b, p->uuid);
        json_builder_set_member_name(b, "pid");
        json_builder_add_int_value(b, p->pid);
        json_builder_set_member_name(b, "uid");
        json_builder_add_int_value(b, p->uid);
        json_builder_set_member_name(b, "joined-s");
        json_builder_add_int_value(b, (now - p->joined_us) / G_USEC_PER_SEC);
        json_builder_set_member_name(b, "events");
        json_builder_add_int_value(b, p->events);
        json_builder_set_member_name(b, "pmas");
        json_builder_begin_array(b);
        g_hash_table_iter_init(&it, p->pmas);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            Pma *pma = value;

            json_builder_begin_object(b);
            json_builder_set_member_name(b, "qom-path");
            json_builder_add_string_value(b, key);
            json_builder_set_member_name(b, "policy");
            json_builder_add_string_value(b, pma->policy);
            json_builder_set_member_name(b, "autosuspend-delay-ms");
            json_builder_add_int_value(b, pma->delay_ms);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_set_member_name(b, "devices");
        json_builder_begin_array(b);
        for (j = 0; p->devices && j < json_array_get_length(p->devices);
             j++) {
            JsonObject *dev = json_array_get_object_element(p->devices, j);
            JsonNode *copy = json_node_new(JSON_NODE_OBJECT);
            JsonObject *c = json_object_new();
            GList *members = json_object_get_members(dev), *m;
            const char *path = obj_str(dev, "qom-path");
            uint32_t d;
            bool low = device_votes_low(p, dev, &d);

            for (m = members; m; m = m->next) {
                json_object_set_member(c, m->data, json_node_copy(
                    json_object_get_member(dev, m->data)));
            }
            g_list_free(members);
            json_node_take_object(copy, c);
            json_object_set_string_member(c, "vote", low ? "low" : "on");
            json_object_set_array_member(c, "knobs", json_array_new());
            for (i = 0; i < cfg->knobs->len; i++) {
                PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);

                if (peer_votes_on(p, k) &&
                    paiovd_config_knob_device(k, path)) {
                    json_array_add_string_element(
                        json_object_get_array_member(c, "knobs"), k->name);
                }
            }
            json_builder_add_value(b, copy);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "coordination");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "align-period-us");
    json_builder_add_int_value(b, cfg->align_period_us);
    json_builder_set_member_name(b, "align-phase-us");
    json_builder_add_int_value(b, cfg->align_phase_us);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "throttle");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "mode");
    json_builder_add_string_value(b, throttle_modes[throttle_mode]);
    json_builder_set_member_name(b, "active");
    json_builder_add_boolean_value(b, throttle_active);
    json_builder_set_member_name(b, "hot");
    json_builder_add_boolean_value(b, host_hot);
    json_builder_set_member_name(b, "changes");
    json_builder_add_int_value(b, throttle_changes);
    json_builder_set_member_name(b, "zones");
    json_builder_begin_array(b);
    for (i = 0; zones && i < zones->len; i++) {
        PaiovdZone *z = g_ptr_array_index(zones, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "zone");
        json_builder_add_string_value(b, z->name);
        json_builder_set_member_name(b, "temp-mc");
        json_builder_add_int_value(b, z->temp_mc);
        if (z->trip_type[0]) {
            json_builder_set_member_name(b, "trip-mc");
            json_builder_add_int_value(b, z->trip_mc);
            json_builder_set_member_name(b, "trip-type");
            json_builder_add_string_value(b, z->trip_type);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "vms");
    json_builder_begin_array(b);
    for (l = peers; l; l = l->next) {
        Peer *p = l->data;

        if (p->state != PEER_READY) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, p->id);
        json_builder_set_member_name(b, "throttled");
        json_builder_add_boolean_value(b, p->throttled);
        json_builder_set_member_name(b, "filters");
        json_builder_begin_array(b);
        for (j = 0; j < p->filters->len; j++) {
            json_builder_add_string_value(b,
                                          g_ptr_array_index(p->filters, j));
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "knobs");
    json_builder_begin_array(b);
    for (i = 0; i < cfg->knobs->len; i++) {
        PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);
        char control[PAIOVD_SMALL_MAX], delay[PAIOVD_SMALL_MAX];

        if (paiovd_knob_read(k, "control", control, sizeof(control)) < 0) {
            control[0] = '\0';
        }
        if (paiovd_knob_read(k, "autosuspend_delay_ms", delay,
                             sizeof(delay)) < 0) {
            delay[0] = '\0';
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, k->name);
        json_builder_set_member_name(b, "path");
        json_builder_add_string_value(b, k->device_dir);
        json_builder_set_member_name(b, "control");
        json_builder_add_string_value(b, control);
        json_builder_set_member_name(b, "autosuspend-delay-ms");
        json_builder_add_string_value(b, delay);
        json_builder_set_member_name(b, "held");
        json_builder_add_boolean_value(b, k->saved);
        if (k->saved) {
            json_builder_set_member_name(b, "original-control");
            json_builder_add_string_value(b, k->orig_control);
            json_builder_set_member_name(b, "original-delay-ms");
            json_builder_add_string_value(b, k->orig_delay);
        }
        json_builder_set_member_name(b, "voters");
        json_builder_add_int_value(b, k->voters);
        json_builder_set_member_name(b, "low");
        json_builder_add_int_value(b, k->low);
        json_builder_set_member_name(b, "writes");
        json_builder_add_int_value(b, k->writes);
        json_builder_set_member_name(b, "failures");
        json_builder_add_int_value(b, k->failures);
        if (k->error) {
            json_builder_set_member_name(b, "error");
            json_builder_add_string_value(b, k->error);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* Properties of paiov-pma the control command "set" may change */
static const char *const settable[] = {
    "policy", "idle-timeout-ms", "host-debounce-ms", "audio-idle",
    "audio-d3hot", "timer-slack-ns", "autosuspend-delay-ms",
    "pm-qos-latency-us", "display-idle-rate", NULL
};

static bool ctl_set(Peer *c, JsonNode *req_id, JsonObject *args)
{
    const char *vm = obj_str(args, "vm");
    const char *prop = obj_str(args, "property");
    const char *only = obj_str(args, "pma");
    JsonNode *value = args ? json_object_get_member(args, "value") : NULL;
    g_autofree char *id_str = NULL;
    SetReq *r;
    GList *l;

    if (!vm || !prop || !value || !JSON_NODE_HOLDS_VALUE(value)) {
        return ctl_reply(c, req_id, NULL,
                         "set needs vm, property and value");
    }
    if (!g_strv_contains(settable, prop)) {
        return ctl_reply(c, req_id, NULL, "property not settable");
    }
    r = g_new0(SetReq, 1);
    r->id = ++c->next_set;
    r->errors = json_array_new();
    r->req_id = req_id ? json_node_copy(req_id) : NULL;
    r->waiting = 1;     /* until every command is sent */
    if (!c->sets) {
        c->sets = g_hash_table_new_full(NULL, NULL, NULL, set_req_free);
    }
    g_hash_table_insert(c->sets, GUINT_TO_POINTER(r->id), r);

    for (l = peers; l; l = l->next) {
        Peer *p = l->data;
        GHashTableIter it;
        gpointer key;

        g_free(id_str);
        id_str = g_strdup_printf("%u", p->id);
        if (p->state != PEER_READY ||
            (g_strcmp0(p->name, vm) && g_ascii_strcasecmp(p->uuid, vm) &&
             strcmp(id_str, vm))) {
            continue;
        }
        g_hash_table_iter_init(&it, p->pmas);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            Pending *pd;
            JsonObject *a;
            JsonNode *n;

            if (only && strcmp(only, key)) {
                continue;
            }
            a = json_object_new();
            json_object_set_string_member(a, "path", key);
            json_object_set_string_member(a, "property", prop);
            json_object_set_member(a, "value", json_node_copy(value));
            n = json_node_new(JSON_NODE_OBJECT);
            json_node_take_object(n, a);
            pd = g_new0(Pending, 1);
            pd->kind = P_SET;
            pd->ctl_peer = c->id;
            pd->set_req = r->id;
            r->waiting++;
            if (!vm_command(p, "qom-set", n, pd)) {
                break;      /* dropped: its pending commands answered */
            }
            if (!strcmp(prop, "autosuspend-delay-ms") &&
                !vm_get_delay(p, key)) {
                break;
            }
        }
        break;
    }
    if (r->waiting == 1) {
        g_hash_table_remove(c->sets, GUINT_TO_POINTER(r->id));
        return ctl_reply(c, req_id, NULL, "no such VM or PMA");
    }
    set_req_done(c->id, r->id, NULL);
    return peer_by_id(c->id) != NULL;
}

static bool ctl_line(Peer *c, JsonObject *msg)
{
    const char *cmd = obj_str(msg, "execute");
    JsonNode *req_id = json_object_get_member(msg, "id");
    JsonNode *an = json_object_get_member(msg, "arguments");
    JsonObject *args = an && JSON_NODE_HOLDS_OBJECT(an) ?
                       json_node_get_object(an) : NULL;

    if (!cmd) {
        return ctl_reply(c, req_id, NULL, "expected {\"execute\": ...}");
    }
    if (!strcmp(cmd, "status")) {
        return ctl_reply(c, req_id, status_node(), NULL);
    }
    if (!strcmp(cmd, "set")) {
        return ctl_set(c, req_id, args);
    }
    if (!strcmp(cmd, "throttle")) {
        const char *mode = obj_str(args, "mode");
        int m;

        for (m = 0; mode && throttle_modes[m]; m++) {
            if (!strcmp(mode, throttle_modes[m])) {
                break;
            }
        }
        if (!mode || !throttle_modes[m]) {
            return ctl_reply(c, req_id, NULL,
                             "throttle needs mode: on, off or auto");
        }
        throttle_mode = m;
        paiovd_log("throttle mode %s", mode);
        throttle_update();
        return ctl_reply(c, req_id, NULL, NULL);
    }
    return ctl_reply(c, req_id, NULL,
                     "unknown command (status, set, throttle)");
}

/* -- input ------------------------------------------------------------- */

/*
 * Is the nesting of @line within MAX_DEPTH?  Checked before parsing: a
 * line of a million '[' would overflow the stack of json-glib's
 * recursive parser.
 */
static bool depth_ok(const char *line, gsize len)
{
    unsigned depth = 0;
    bool in_string = false;
    gsize i;

    for (i = 0; i < len; i++) {
        char c = line[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_DEPTH) {
                return false;
            }
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return true;
}

/* One line from a peer; false when it was dropped */
static bool peer_line(Peer *p, const char *line, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonNode *root;
    JsonObject *msg;
    JsonNode *qmp;

    if (!len) {
        return true;
    }
    if (!depth_ok(line, len)) {
        peer_drop(p, "JSON nested too deep");
        return false;
    }
    if (!json_parser_load_from_data(parser, line, len, &err)) {
        peer_drop(p, "malformed JSON");
        return false;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        peer_drop(p, "a message that is not a JSON object");
        return false;
    }
    msg = json_node_get_object(root);

    switch (p->state) {
    case PEER_NEW:
        qmp = json_object_get_member(msg, "QMP");
        if (qmp && JSON_NODE_HOLDS_OBJECT(qmp)) {
            Pending *pd = g_new0(Pending, 1);

            p->state = PEER_CAPS;
            pd->kind = P_CAPS;
            return vm_command(p, "qmp_capabilities", NULL, pd);
        }
        if (json_object_has_member(msg, "execute")) {
            if (!ctl_allowed(p)) {
                peer_drop(p, "control command from a uid not allowed");
                return false;
            }
            p->state = PEER_CTL;
            return ctl_line(p, msg);
        }
        peer_drop(p, "neither a QMP greeting nor a control command");
        return false;
    case PEER_CTL:
        return ctl_line(p, msg);
    default:
        if (json_object_has_member(msg, "event")) {
            return vm_event(p, msg);
        }
        if (json_object_has_member(msg, "return") ||
            json_object_has_member(msg, "error")) {
            return vm_reply(p, msg);
        }
        peer_drop(p, "not a QMP reply or event");
        return false;
    }
}

static gboolean peer_read(int fd, Peer *p)
{
    char buf[65536];
    gsize max = p->state == PEER_NEW || p->state == PEER_CTL ?
                CTL_LINE_MAX : VM_LINE_MAX;
    ssize_t n;
    char *nl;
    gint64 now = g_get_monotonic_time();

    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        p->in_watch = 0;
        peer_drop(p, n < 0 ? g_strerror(errno) : "connection closed");
        return G_SOURCE_REMOVE;
    }
    if (now - p->window_start_us >= G_USEC_PER_SEC) {
        p->window_start_us = now;
        p->window_lines = 0;
        p->window_bytes = 0;
    }
    p->window_bytes += n;
    if (p->window_bytes > MAX_BYTES_PER_S) {
        p->in_watch = 0;
        peer_drop(p, "flood: too many bytes per second");
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(p->in, buf, n);
    while ((nl = memchr(p->in->str, '\n', p->in->len))) {
        gsize len = nl - p->in->str;
        guint id = p->id;

        if (++p->window_lines > cfg->max_lines_per_s) {
            p->in_watch = 0;
            peer_drop(p, "flood: too many lines per second");
            return G_SOURCE_REMOVE;
        }
        if (len > max) {
            break;
        }
        *nl = '\0';
        if (!peer_line(p, p->in->str, len)) {
            /* dropped; our source is already removed */
            return peer_by_id(id) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
        }
        g_string_erase(p->in, 0, len + 1);
        max = p->state == PEER_CTL ? CTL_LINE_MAX : VM_LINE_MAX;
    }
    if (p->in->len > max) {
        p->in_watch = 0;
        peer_drop(p, "line too long");
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean peer_readable(int fd, GIOCondition cond, gpointer opaque)
{
    gboolean ret = peer_read(fd, opaque);

    schedule_tick();
    return ret;
}

static gboolean listener_readable(int fd, GIOCondition cond, gpointer opaque)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    Peer *p;
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            paiovd_log("accept: %s", g_strerror(errno));
        }
        return G_SOURCE_CONTINUE;
    }
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        paiovd_log("SO_PEERCRED: %s; connection refused", g_strerror(errno));
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    if (g_list_length(peers) >= cfg->max_peers) {
        paiovd_log("pid %d uid %u: refused: %u peers already", (int)cred.pid,
                   (unsigned)cred.uid, cfg->max_peers);
        dropped_total++;
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    p = g_new0(Peer, 1);
    p->id = next_peer_id++;
    p->fd = cfd;
    p->pid = cred.pid;
    if (!paiovd_proc_start_time(cred.pid, &p->start_time)) {
        p->start_time = 0;          /* no throttle journal for it */
    }
    p->uid = cred.uid;
    p->gid = cred.gid;
    p->in = g_string_new("");
    p->out = g_string_new("");
    p->connected_us = p->last_line_us = g_get_monotonic_time();
    p->pending = g_hash_table_new_full(NULL, NULL, NULL, pending_free);
    p->pmas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                    pma_free);
    p->saved_policy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            g_free);
    p->filters = g_ptr_array_new_with_free_func(g_free);
    peers = g_list_append(peers, p);
    p->in_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                peer_readable, p);
    schedule_tick();
    return G_SOURCE_CONTINUE;
}

static guint tick_id;
static gint64 tick_deadline;
static gboolean tick(gpointer opaque);

/* When the oldest of a peer's commands was sent, or @now */
static gint64 oldest_pending(Peer *p, gint64 now)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, p->pending);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        now = MIN(now, ((Pending *)value)->sent_us);
    }
    return now;
}

/*
 * Arm the timer for the next deadline of any peer (handshake, answer,
 * polling of costs, idle control client), in whole seconds so that GLib
 * can batch the wakeups.  No peer, no timer: an idle daemon never wakes.
 */
static void schedule_tick(void)
{
    gint64 now = g_get_monotonic_time();
    gint64 next = G_MAXINT64;
    gint64 s;
    GList *l;

    for (l = peers; l; l = l->next) {
        Peer *p = l->data;

        if (p->state == PEER_CTL) {
            next = MIN(next, p->connected_us + CTL_IDLE_S * G_USEC_PER_SEC);
            continue;
        }
        if (p->state != PEER_READY) {
            next = MIN(next, p->connected_us +
                       (gint64)cfg->handshake_timeout_s * G_USEC_PER_SEC);
        } else {
            next = MIN(next, p->last_poll_us +
                       (gint64)cfg->poll_interval_s * G_USEC_PER_SEC);
        }
        if (g_hash_table_size(p->pending)) {
            next = MIN(next, oldest_pending(p, now) +
                       (gint64)cfg->reply_timeout_s * G_USEC_PER_SEC);
        }
    }
    /*
     * An armed timer is only ever brought forward: re-arming it on every
     * line would let a busy peer (a control client asking every 50 ms)
     * push every deadline away for good.
     */
    if (next == G_MAXINT64) {
        return;     /* an armed timer finds nothing to do, and stops */
    }
    s = MAX((next - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, 1);
    if (tick_id && tick_deadline <= now + s * G_USEC_PER_SEC) {
        return;
    }
    if (tick_id) {
        g_source_remove(tick_id);
    }
    tick_deadline = now + s * G_USEC_PER_SEC;
    tick_id = g_timeout_add_seconds(s, tick, NULL);
}

/* Handshake and reply deadlines, polling of costs */
static gboolean tick(gpointer opaque)
{
    gint64 now = g_get_monotonic_time();
    GList *l, *next;

    tick_id = 0;
    for (l = peers; l; l = next) {
        Peer *p = l->data;

        next = l->next;
        if (p->state == PEER_CTL) {
            if (now - p->connected_us >= CTL_IDLE_S * G_USEC_PER_SEC &&
                !p->out->len) {
                peer_drop(p, "idle");
            }
            continue;
        }
        if (p->state != PEER_READY &&
            now - p->connected_us >=
            (gint64)cfg->handshake_timeout_s * G_USEC_PER_SEC) {
            peer_drop(p, "no QMP handshake in time");
            continue;
        }
        if (now - oldest_pending(p, now) >=
            (gint64)cfg->reply_timeout_s * G_USEC_PER_SEC) {
            peer_drop(p, "does not answer");
            continue;
        }
        /* due within a second: polled with the others, one wakeup */
        if (p->state == PEER_READY &&
            now - p->last_poll_us + G_USEC_PER_SEC >=
            (gint64)cfg->poll_interval_s * G_USEC_PER_SEC) {
            vm_refresh(p);
        }
    }
    schedule_tick();
    return G_SOURCE_REMOVE;
}

/*
 * Exit once the VMs answered what lifting the throttle sent (QEMU drops
 * the queued commands of a monitor whose peer closed), at most 2 s.
 */
static gboolean exit_when_answered(gpointer opaque)
{
    static unsigned rounds;
    GList *l;

    for (l = peers; l && ++rounds < 40; l = l->next) {
        Peer *p = l->data;

        if (p->state == PEER_READY && g_hash_table_size(p->pending)) {
            return G_SOURCE_CONTINUE;
        }
    }
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer opaque)
{
    GList *l, *next;

    paiovd_log("%s: restoring the knobs and exiting",
               (const char *)opaque);
    if (!throttle_active) {
        g_main_loop_quit(loop);
        return G_SOURCE_REMOVE;
    }
    /* the VMs keep running: not throttled by a daemon that is gone */
    throttle_active = false;
    exiting = true;
    for (l = peers; l; l = next) {
        next = l->next;
        if (((Peer *)l->data)->state == PEER_READY) {
            vm_throttle(l->data, false);
        }
    }
    g_timeout_add(50, exit_when_answered, NULL);
    return G_SOURCE_REMOVE;
}

static gboolean on_sighup(gpointer opaque)
{
    paiovd_log("SIGHUP: no reload; restart the daemon to read the "
               "configuration again (the VMs reconnect)");
    return G_SOURCE_CONTINUE;
}

/* -- the socket -------------------------------------------------------- */

/* sd_listen_fds(3), by hand: the first fd passed by systemd, or -1 */
static int listen_fd_from_systemd(void)
{
    const char *pid = g_getenv("LISTEN_PID");
    const char *fds = g_getenv("LISTEN_FDS");
    int type;
    socklen_t len = sizeof(type);
    int fd = SD_LISTEN_FDS_START;

    if (!pid || !fds || g_ascii_strtoll(pid, NULL, 10) != getpid() ||
        g_ascii_strtoll(fds, NULL, 10) < 1) {
        return -1;
    }
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        type != SOCK_STREAM) {
        paiovd_log("LISTEN_FDS: fd %d is not a stream socket", fd);
        return -2;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int listen_on(const char *path, unsigned mode)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *dir = NULL;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        paiovd_log("socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        paiovd_log("%s: %s", dir, g_strerror(errno));
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            paiovd_log("%s exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, mode) < 0 || listen(fd, 64) < 0) {
        paiovd_log("%s: %s", path, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    g_autofree char *config_file = NULL;
    g_autofree char *socket_path = NULL;
    g_autofree char *state_dir = NULL;
    g_autofree char *mode_str = NULL;
    gboolean foreground = FALSE, check = FALSE, no_owner_check = FALSE;
    g_autoptr(GError) err = NULL;
    g_autoptr(GOptionContext) ctx = NULL;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
          "Configuration file (default " PAIOVD_DEFAULT_CONFIG ")", "FILE" },
        { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
          "Listen on this socket (default: the one systemd passes, "
          "else the configuration's, else " PAIOVD_DEFAULT_SOCKET ")",
          "PATH" },
        { "socket-mode", 0, 0, G_OPTION_ARG_STRING, &mode_str,
          "Mode of a socket the daemon creates (default 0660)", "OCTAL" },
        { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
          "Journal of original knob values (overrides the configuration)",
          "DIR" },
        { "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
          "Ignore systemd's sockets and use --socket (for tests)", NULL },
        { "check-config", 0, 0, G_OPTION_ARG_NONE, &check,
          "Check the configuration, print the knobs and exit", NULL },
        { "no-owner-check", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE,
          &no_owner_check, "Do not check the configuration's owner", NULL },
        { NULL }
    };
    unsigned mode = 0660;
    int lfd = -1;
    unsigned i;

    ctx = g_option_context_new("- coordinator of the proxy PMAs of QEMUs");
    g_option_context_set_summary(ctx,
        "Holds the runtime-PM knobs of host devices for the paiov devices\n"
        "of the VMs that join it (an extra QMP monitor of QEMU connected to\n"
        "its socket), aggregating their votes, and restores the original\n"
        "values when VMs or the daemon go.  See docs/paiovd.md.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "paiovd: %s\n", err->message);
        return 2;
    }
    if (mode_str) {
        char *end;

        mode = g_ascii_strtoull(mode_str, &end, 8);
        if (*end || !*mode_str || mode > 0777) {
            fprintf(stderr, "paiovd: --socket-mode: bad mode '%s'\n",
                    mode_str);
            return 2;
        }
    }
    cfg = paiovd_config_load(config_file ? config_file
                                         : PAIOVD_DEFAULT_CONFIG,
                             !no_owner_check, &err);
    if (!cfg) {
        fprintf(stderr, "paiovd: %s\n", err->message);
        return 1;
    }
    if (state_dir) {
        g_free(cfg->state_dir);
        cfg->state_dir = g_strdup(state_dir);
    }
    if (check) {
        printf("%s: ok, sysfs-root %s, state-dir %s\n", cfg->file,
               cfg->sysfs_root, cfg->state_dir);
        for (i = 0; i < cfg->knobs->len; i++) {
            PaiovdKnob *k = g_ptr_array_index(cfg->knobs, i);

            printf("knob %s: %s\n", k->name, k->device_dir);
        }
        paiovd_config_free(cfg);
        return 0;
    }

    state_fd = paiovd_state_open(cfg->state_dir, &err);
    if (state_fd < 0) {
        paiovd_log("%s", err->message);
        return 1;
    }
    /* a previous run killed with SIGKILL left knobs changed */
    paiovd_journal_recover(cfg, state_fd);
    paiovd_throttle_journal_sweep(state_fd);

    signal(SIGPIPE, SIG_IGN);
    if (!foreground && !socket_path) {
        lfd = listen_fd_from_systemd();
        if (lfd == -2) {
            return 1;
        }
    }
    if (lfd < 0) {
        const char *path = socket_path ? socket_path :
                           cfg->socket_path ? cfg->socket_path :
                           PAIOVD_DEFAULT_SOCKET;

        lfd = listen_on(path, mode);
        if (lfd < 0) {
            return 1;
        }
        paiovd_log("listening on %s", path);
    } else {
        paiovd_log("listening on the socket passed by systemd");
    }

    start_us = g_get_monotonic_time();
    loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(lfd, G_IO_IN, listener_readable, NULL);
    g_unix_signal_add(SIGTERM, on_signal, (gpointer)"SIGTERM");
    g_unix_signal_add(SIGINT, on_signal, (gpointer)"SIGINT");
    g_unix_signal_add(SIGHUP, on_sighup, NULL);

    paiovd_log("%u knob(s), state-dir %s", cfg->knobs->len, cfg->state_dir);
    g_main_loop_run(loop);

    /* the VMs keep running: they reconnect to the next daemon */
    while (peers) {
        Peer *p = peers->data;

        peers = g_list_remove(peers, p);
        peer_free(p);
    }
    for (i = 0; i < cfg->knobs->len; i++) {
        paiovd_knob_restore(g_ptr_array_index(cfg->knobs, i), state_fd);
    }
    if (socket_path || foreground) {
        /* ours; systemd's socket stays for the next activation */
        unlink(socket_path ? socket_path : cfg->socket_path ?
               cfg->socket_path : PAIOVD_DEFAULT_SOCKET);
    }
    close(state_fd);
    g_main_loop_unref(loop);
    paiovd_config_free(cfg);
    return 0;
}
