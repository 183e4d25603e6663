/*
 * PAIOV: runtime-PM sysfs knobs of host devices, shared between VMs
 *
 * A knob is the power/control (and power/autosuspend_delay_ms) attribute
 * of a host device directory below a sysfs root.  Every user (a paiov
 * device in some QEMU process) votes "low" or "on"; the knob is set to
 * "auto" only while every live vote is low, and the values found before
 * the first write are restored when the last vote goes.
 *
 * The votes live in a runtime directory, one file per user, each held
 * open with an exclusive flock(2) by its owner: a vote file that can be
 * locked belongs to a dead process (killed with SIGKILL, crashed) and is
 * ignored and removed by the next user that looks.  All changes happen
 * under an exclusive lock on the knob's "lock" file, waited for at most
 * 100 ms (the caller holds the BQL): a change that cannot get it fails.
 *
 * The runtime directory and the knob's directory in it must be owned by
 * QEMU's effective user and writable by nobody else, and not symlinks;
 * the files in them must be regular files, opened without following
 * links or blocking (see paiov-rpm.c).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_RPM_H
#define PAIOV_PAIOV_RPM_H

typedef struct PaiovRpmKnob PaiovRpmKnob;

/**
 * paiov_rpm_open: resolve and check a host device, register as a user
 * @root: the sysfs root ("/sys", or a tree built by a test)
 * @path: the device directory, absolute or relative to @root
 * @rundir: where the votes of all users of the knob live
 * @prop: the property name to use in error messages
 * @errp: set when @path is outside @root, has no power/control, or
 * when @rundir (or the knob's directory in it) is not safe to use; the
 * latter messages start with "runtime-dir".
 *
 * Nothing outside @root is ever opened for writing; in @rundir nothing
 * but regular files in checked directories.  Stale votes left by users
 * that died are removed by the next vote or close.
 */
PaiovRpmKnob *paiov_rpm_open(const char *root, const char *path,
                             const char *rundir, const char *prop,
                             Error **errp);

/**
 * paiov_rpm_vote: vote low (with an autosuspend delay) or on, and apply
 * the result of all votes to the knob.
 *
 * The autosuspend delay is best effort (EIO on devices whose driver does
 * not use autosuspend): only a failure to write power/control counts.
 *
 * Returns: 0, or a negative errno with @errp set when the knob could not
 * be written (read-only, vanished), its lock was held by another process
 * for too long (-EWOULDBLOCK), or its state files are not what they
 * should be; the vote is recorded anyway when our vote file exists.
 */
int paiov_rpm_vote(PaiovRpmKnob *knob, bool low, uint32_t delay_ms,
                   Error **errp);

/* The value of power/control as last written or read ("auto", "on") */
const char *paiov_rpm_control(PaiovRpmKnob *knob);

/* The resolved device directory */
const char *paiov_rpm_device(PaiovRpmKnob *knob);

/**
 * paiov_rpm_close: withdraw the vote; the last user restores the values
 * the knob had before the first write.  Never fails (errors are traced).
 */
void paiov_rpm_close(PaiovRpmKnob *knob);

#endif /* PAIOV_PAIOV_RPM_H */
