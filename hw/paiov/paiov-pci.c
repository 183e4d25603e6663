/*
 * PAIOV: PCI power management capability of the paiov devices
 *
 * The capability advertises D0 and D3hot only (no D1, D2, no PME) and sets
 * No_Soft_Reset, so that a device keeps its state across D3hot -> D0.  The
 * PCI core (hw/pci/pci.c) disables the BARs outside D0 and refuses
 * unsupported transitions; here the guest's misuse is logged and the
 * resulting D-state is passed to the virtual PSA.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/range.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "paiov/paiov.h"
#include "trace.h"

/* PMCSR bits that are reserved in PCI PM 1.2 */
#define PAIOV_PMCSR_RESERVED 0x00f4

bool paiov_pci_pm_init(PCIDevice *pci_dev, uint8_t offset, Error **errp)
{
    int cap = pci_pm_init(pci_dev, offset, errp);

    if (cap < 0) {
        return false;
    }
    /* PCI PM 1.2, no PME, no D1/D2 */
    pci_set_word(pci_dev->config + cap + PCI_PM_PMC, 0x0003);
    pci_set_word(pci_dev->config + cap + PCI_PM_CTRL,
                 PCI_PM_CTRL_NO_SOFT_RESET);
    pci_set_word(pci_dev->wmask + cap + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
    return true;
}

static void paiov_pci_check_pmcsr(PCIDevice *pci_dev, uint16_t pmcsr,
                                  uint16_t mask)
{
    unsigned state = pmcsr & PCI_PM_CTRL_STATE_MASK;
    const char *name = object_get_typename(OBJECT(pci_dev));

    if ((mask & PCI_PM_CTRL_STATE_MASK) && (state == 1 || state == 2)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: guest requested unsupported power state D%u "
                      "(PMCSR 0x%x), ignored\n", name, state, pmcsr);
    }
    if (pmcsr & mask & PAIOV_PMCSR_RESERVED) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: guest wrote reserved PMCSR bits 0x%x, ignored\n",
                      name, pmcsr & mask & PAIOV_PMCSR_RESERVED);
    }
}

uint8_t paiov_pci_dstate(PCIDevice *pci_dev)
{
    if (!pci_dev->pm_cap) {
        return 0;
    }
    return pci_get_word(pci_dev->config + pci_dev->pm_cap + PCI_PM_CTRL) &
           PCI_PM_CTRL_STATE_MASK;
}

void paiov_pci_config_write(PaiovVPSA *vpsa, PCIDevice *pci_dev,
                            uint32_t addr, uint32_t val, int len,
                            PCIConfigWriteFunc *parent)
{
    uint32_t pmcsr_addr = pci_dev->pm_cap + PCI_PM_CTRL;
    bool pm_write = pci_dev->pm_cap &&
                    ranges_overlap(addr, len, pmcsr_addr, 2);

    if (pm_write) {
        uint16_t pmcsr = 0, mask = 0;
        int i;

        /* the bytes of the write that land in PMCSR */
        for (i = 0; i < 2; i++) {
            uint32_t a = pmcsr_addr + i;

            if (range_covers_byte(addr, len, a)) {
                pmcsr |= ((val >> (8 * (a - addr))) & 0xff) << (8 * i);
                mask |= 0xff << (8 * i);
            }
        }
        trace_paiov_pci_pmcsr_write(object_get_typename(OBJECT(pci_dev)),
                                    pmcsr & mask, mask);
        paiov_pci_check_pmcsr(pci_dev, pmcsr, mask);
    }

    (parent ?: pci_default_write_config)(pci_dev, addr, val, len);

    if (pm_write) {
        paiov_vpsa_set_dstate(vpsa, paiov_pci_dstate(pci_dev) == 3 ? 3 : 0);
    }
}
