/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/memguard.h - survive a front-end that shrinks shared memory
 *
 * Model:       a front-end can truncate the file behind a region after
 *              vusim mapped it (mem.c checks the size only at mapping
 *              time). The next touch of a page past the new end raises
 *              SIGBUS, whose default action ends vusim and every
 *              connection. With the guard installed, a SIGBUS inside a
 *              registered mapping puts a private zero page where the
 *              shared one was and marks the mapping broken: the access
 *              completes on vusim's own memory (never another's), and the
 *              mapping's owner sees vu_memguard_broken() and closes the
 *              connection. A SIGBUS anywhere else gets the action that was
 *              there before (it faults again with the old handler).
 * Owns:        a fixed table of VU_MEMGUARD_SLOTS ranges; the SIGBUS
 *              action while installed.
 * Borrows:     the ranges (the caller maps and unmaps them).
 * Threading:   register, unregister and broken from any thread (slots are
 *              claimed with atomics); install once, before the threads.
 * Errors:      install: -errno from sigaction. register: -ENOSPC when
 *              every slot is taken (the range is then unguarded).
 * Determinism: a broken mapping ends its connection; which bytes a
 *              truncating front-end left behind was never defined.
 */
#ifndef VUSIM_COSIM_MEMGUARD_H
#define VUSIM_COSIM_MEMGUARD_H

#include <stdbool.h>
#include <stddef.h>

#define VU_MEMGUARD_SLOTS 1024

/* Install the SIGBUS handler (idempotent). Programs call it once; a host
 * that leaves it out keeps SIGBUS's usual action. */
int vu_memguard_install(void);

/* Guard [base, base + len): a slot id >= 0, or -ENOSPC. */
int vu_memguard_register(void *base, size_t len);

/* Forget slot @id (< 0: nothing), before the range is unmapped. */
void vu_memguard_unregister(int id);

/* Has a SIGBUS hit slot @id since it was registered? */
bool vu_memguard_broken(int id);

#endif
