/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/memguard.c - survive a front-end that shrinks shared memory
 * (see memguard.h)
 *
 * The handler only reads the table and calls mmap(2), a system call that
 * is safe in a signal handler on Linux even though POSIX does not list it.
 * A slot's base is published last on register and cleared first on
 * unregister, so the handler never sees half a range.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cosim/wire/memguard.h"

struct guard_slot {
    _Atomic uintptr_t base;       /* 0: free */
    _Atomic size_t len;
    atomic_bool broken;
    atomic_bool claimed;
};

static struct guard_slot g_slots[VU_MEMGUARD_SLOTS];
static struct sigaction g_old;
static atomic_bool g_installed;
/* Read at install: sysconf(3) is not async-signal-safe. */
static _Atomic uintptr_t g_page;

/* The slot holding @addr, or NULL. */
static struct guard_slot *guard_find(uintptr_t addr)
{
    for (unsigned i = 0; i < VU_MEMGUARD_SLOTS; i++) {
        uintptr_t b = atomic_load(&g_slots[i].base);

        if (b && addr >= b && addr - b < atomic_load(&g_slots[i].len)) {
            return &g_slots[i];
        }
    }
    return NULL;
}

static void guard_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    struct guard_slot *s = guard_find(addr);
    uintptr_t page = atomic_load(&g_page);
    int saved = errno;

    (void)sig;
    (void)uc;
    if (s && mmap((void *)(addr & ~(page - 1)), page,
                  PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
                 MAP_FAILED) {
        atomic_store(&s->broken, true);
        errno = saved;
        return;                   /* the access runs again, on the zero page */
    }
    /* Not ours (or no page to put there): the old action, by faulting
     * again under it. */
    sigaction(SIGBUS, &g_old, NULL);
    errno = saved;
}

int vu_memguard_install(void)
{
    struct sigaction sa;

    if (atomic_exchange(&g_installed, true)) {
        return 0;
    }
    atomic_store(&g_page, (uintptr_t)sysconf(_SC_PAGESIZE));
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guard_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &g_old) < 0) {
        atomic_store(&g_installed, false);
        return -errno;
    }
    return 0;
}

int vu_memguard_register(void *base, size_t len)
{
    for (int i = 0; i < VU_MEMGUARD_SLOTS; i++) {
        struct guard_slot *s = &g_slots[i];

        if (!atomic_exchange(&s->claimed, true)) {
            atomic_store(&s->broken, false);
            atomic_store(&s->len, len);
            atomic_store(&s->base, (uintptr_t)base);
            return i;
        }
    }
    return -ENOSPC;
}

void vu_memguard_unregister(int id)
{
    if (id < 0 || id >= VU_MEMGUARD_SLOTS) {
        return;
    }
    atomic_store(&g_slots[id].base, 0);
    atomic_store(&g_slots[id].len, 0);
    atomic_store(&g_slots[id].claimed, false);
}

bool vu_memguard_broken(int id)
{
    return id >= 0 && id < VU_MEMGUARD_SLOTS &&
           atomic_load(&g_slots[id].broken);
}
