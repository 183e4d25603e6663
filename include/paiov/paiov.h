/*
 * PAIOV: power-aware I/O virtualization
 *
 * What a paiov PCI device model includes: the virtual power state agent
 * it embeds (paiov/paiov-vpsa.h), its host side that the proxy power
 * management agent owns (paiov/paiov-pma.h), and the glue every paiov
 * PCI device shares (PCI PM capability, properties, migration
 * subsection, realize/unrealize/reset chaining).
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PAIOV_PAIOV_H
#define PAIOV_PAIOV_H

#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "paiov/paiov-vpsa.h"
#include "paiov/paiov-pma.h"

/* PCI glue shared by the paiov PCI devices (hw/paiov/paiov-pci.c) */
bool paiov_pci_pm_init(PCIDevice *pci_dev, uint8_t offset, Error **errp);
/* The power state in PMCSR (0 to 3; 0 without the capability) */
uint8_t paiov_pci_dstate(PCIDevice *pci_dev);
/* For the devices' PCIDeviceClass.pm_state_changed: a D-state change */
void paiov_pci_pm_state_changed(PaiovVPSA *vpsa, uint8_t new);

/*
 * The properties of every paiov device, stored in its PaiovHost @_host:
 * "pma" (the proxy PMA; default: the machine's) and "host-device" (the
 * sysfs directory of the host device behind it).  Two entries of a
 * Property array, passed through PAIOV_PROPERTY_LIST() as one
 * expression (as DEFINE_NIC_PROPERTIES, which checkpatch.pl refuses).
 */
#define PAIOV_PROPERTY_LIST(...) __VA_ARGS__
#define DEFINE_PAIOV_PROPERTIES(_state, _host)                          \
    PAIOV_PROPERTY_LIST(                                                \
        DEFINE_PROP_LINK("pma", _state, _host.pma_link, TYPE_PAIOV_PMA, \
                         PaiovPMA *),                                   \
        DEFINE_PROP_STRING("host-device", _state, _host.host_device))

/*
 * PAIOV_VPSA_SUBSECTION: define @_vmsd, the subsection @_name of a paiov
 * device @_state that carries its PaiovVPSA @_field, sent only when the
 * device is not in its reset state (paiov_vpsa_migration_needed()).
 * Fields of the device's own may follow.
 */
#define PAIOV_VPSA_SUBSECTION(_vmsd, _name, _state, _field, ...)       \
    static bool _vmsd##_needed(void *opaque)                            \
    {                                                                   \
        return paiov_vpsa_migration_needed(&((_state *)opaque)->_field); \
    }                                                                   \
    static const VMStateDescription _vmsd = {                           \
        .name = _name,                                                  \
        .version_id = 1,                                                \
        .minimum_version_id = 1,                                        \
        .needed = _vmsd##_needed,                                       \
        .fields = (const VMStateField[]) {                              \
            VMSTATE_PAIOV_VPSA(_field, _state), ##__VA_ARGS__,          \
            VMSTATE_END_OF_LIST()                                       \
        }                                                               \
    }

/**
 * PaiovPCIParent: the methods of a paiov device's parent class that
 * the device's own chain to (hw/paiov/paiov-device.c)
 */
typedef struct PaiovPCIParent {
    void (*realize)(PCIDevice *dev, Error **errp);
    PCIUnregisterFunc *exit;
    ResettablePhases phases;
} PaiovPCIParent;

/* In class_init: @realize, @exit and the reset @hold phase chain up */
void paiov_pci_class_chain(ObjectClass *klass, PaiovPCIParent *parent,
                           void (*realize)(PCIDevice *dev, Error **errp),
                           PCIUnregisterFunc *exit,
                           ResettableHoldPhase hold);

/**
 * paiov_pci_realize_parent: the part of a paiov device's realize that
 * can fail, in order: the PCI PM capability at @pm_cap, the host side
 * through the proxy PMA (paiov_host_attach()), the parent's realize.
 * On failure nothing of it is left and pci_qdev_realize() takes the
 * function off the bus again: a failed hot-plug leaves no half-realized
 * device.  On success the device sets itself up and then calls
 * paiov_vpsa_realize(), which cannot fail.
 */
bool paiov_pci_realize_parent(PCIDevice *dev, const PaiovPCIParent *parent,
                              uint8_t pm_cap, PaiovVPSA *vpsa,
                              PaiovHost *host, Error **errp);

/* Unrealize: the virtual PSA, its host side, then the parent's exit */
void paiov_pci_unrealize(PCIDevice *dev, const PaiovPCIParent *parent,
                         PaiovVPSA *vpsa, PaiovHost *host);

/* Reset hold: the parent's, then the virtual PSA's reset state */
void paiov_pci_reset_hold(Object *obj, ResetType type,
                          const PaiovPCIParent *parent, PaiovVPSA *vpsa);

#endif /* PAIOV_PAIOV_H */
