/* SPDX-License-Identifier: MIT */
/*
 * The device table and lookup by name (devices/dev.h). A new device adds
 * its header and one line to the table.
 */
#include "config.h"

#include <string.h>

#include "devices/blk/blk.h"
#include "devices/dev.h"
#include "devices/rng/rng.h"

const struct dev_ops *const dev_registry[] = {
    &dev_blk_ops,
    &dev_rng_ops,
    NULL,
};

/* The program's own device (dev_register()), found before the table. */
static const struct dev_ops *dev_program_ops;

void dev_register(const struct dev_ops *ops)
{
    dev_program_ops = ops;
}

const struct dev_ops *dev_lookup(const char *name)
{
    if (!name) {
        return NULL;
    }
    if (dev_program_ops && strcmp(dev_program_ops->name, name) == 0) {
        return dev_program_ops;
    }
    for (size_t i = 0; dev_registry[i]; i++) {
        if (strcmp(dev_registry[i]->name, name) == 0) {
            return dev_registry[i];
        }
    }
    return NULL;
}

const struct dev_ops *dev_lookup_like(const char *name, uint32_t virtio_id)
{
    const struct dev_ops *ops = dev_lookup(name);

    if (ops && ops->decode) {
        return ops;
    }
    for (size_t i = 0; dev_registry[i]; i++) {
        if (dev_registry[i]->virtio_id == virtio_id) {
            return dev_registry[i];
        }
    }
    return ops;
}
