/*
 * PAIOV: PCI power management capability of the paiov devices
 *
 * The capability advertises D0 and D3hot only (no D1, D2, no PME) and sets
 * No_Soft_Reset, so that a device keeps its state across D3hot -> D0.  The
 * PCI core (hw/pci/pci.c) disables the BARs outside D0, refuses (and logs
 * as guest errors) unsupported transitions and reserved PMCSR bits, and
 * tells the device of each D-state change through its pm_state_changed
 * class hook; here the new D-state is passed to the virtual PSA.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "paiov/paiov.h"

bool paiov_pci_pm_init(PCIDevice *pci_dev, uint8_t offset, Error **errp)
{
    int cap = pci_pm_init(pci_dev, offset, errp);

    if (cap < 0) {
        return false;
    }
    /* no PME, no D1/D2 */
    pci_set_word(pci_dev->config + cap + PCI_PM_PMC, PCI_PM_CAP_VER_1_2);
    pci_set_word(pci_dev->config + cap + PCI_PM_CTRL,
                 PCI_PM_CTRL_NO_SOFT_RESET);
    pci_set_word(pci_dev->wmask + cap + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
    return true;
}

uint8_t paiov_pci_dstate(PCIDevice *pci_dev)
{
    if (!pci_dev->pm_cap) {
        return 0;
    }
    return pci_get_word(pci_dev->config + pci_dev->pm_cap + PCI_PM_CTRL) &
           PCI_PM_CTRL_STATE_MASK;
}

void paiov_pci_pm_state_changed(PaiovVPSA *vpsa, uint8_t new)
{
    paiov_vpsa_set_dstate(vpsa, new == 3 ? 3 : 0);
}
