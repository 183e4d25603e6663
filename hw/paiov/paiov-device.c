/*
 * PAIOV: what the paiov PCI devices share around their parent class
 *
 * Each paiov device is a QOM subclass of a stock PCI device.  Its realize
 * does what can fail first (PM capability, host side), then the parent's;
 * its unrealize undoes the virtual PSA and the host side before the
 * parent's exit; its reset hold phase runs the parent's, then returns
 * the virtual PSA to the reset state (D0, idle).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "paiov/paiov.h"

void paiov_pci_class_chain(ObjectClass *klass, PaiovPCIParent *parent,
                           void (*realize)(PCIDevice *dev, Error **errp),
                           PCIUnregisterFunc *exit,
                           ResettableHoldPhase hold)
{
    PCIDeviceClass *pk = PCI_DEVICE_CLASS(klass);

    parent->realize = pk->realize;
    pk->realize = realize;
    parent->exit = pk->exit;
    pk->exit = exit;
    resettable_class_set_parent_phases(RESETTABLE_CLASS(klass), NULL, hold,
                                       NULL, &parent->phases);
}

bool paiov_pci_realize_parent(PCIDevice *dev, const PaiovPCIParent *parent,
                              uint8_t pm_cap, PaiovVPSA *vpsa,
                              PaiovHost *host, Error **errp)
{
    Error *local_err = NULL;

    if (!paiov_pci_pm_init(dev, pm_cap, errp) ||
        !paiov_host_attach(host, vpsa, errp)) {
        return false;
    }
    parent->realize(dev, &local_err);
    if (local_err) {
        paiov_host_detach(host);
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

void paiov_pci_unrealize(PCIDevice *dev, const PaiovPCIParent *parent,
                         PaiovVPSA *vpsa, PaiovHost *host)
{
    paiov_vpsa_unrealize(vpsa);
    paiov_host_detach(host);
    if (parent->exit) {
        parent->exit(dev);
    }
}

void paiov_pci_reset_hold(Object *obj, ResetType type,
                          const PaiovPCIParent *parent, PaiovVPSA *vpsa)
{
    if (parent->phases.hold) {
        parent->phases.hold(obj, type);
    }
    paiov_vpsa_reset(vpsa);
}
