/* SPDX-License-Identifier: MIT */
/*
 * The calendar is an indexed 4-ary min-heap of 16-byte entries: the event's
 * time inline, so the common comparison never leaves the index, and the event
 * pointer, followed only when two times tie. Each event's slot holds its
 * heap position + 1, which makes cancel and reschedule O(log n).
 *
 * Why 4-ary: half the depth of a binary heap, and the four children of a
 * node are one 64-byte cache line, because the array is 64-byte aligned and
 * shifted by three entries (logical node i lives at physical i + 3, so the
 * children 4i+1..4i+4 start at physical 4(i+1)).
 *
 * The hold pattern (run the earliest event, whose callback schedules the
 * next) costs one sift, not two: run_one leaves the root as a hole, and the
 * next insertion drops into it and sifts down. Any other operation that
 * needs the whole heap first fills the hole the ordinary way (last entry to
 * the root, sift down). While the hole exists, n counts it and h[0] is stale:
 * its event may already be freed, so h[0] is never read then.
 *
 * Why the (prio, seq) part of the key is not inline: packing a 32-bit
 * priority and a 64-bit sequence into the 8 bytes left would need the
 * sequence cut to 32 bits and renumbered when it wraps; chasing the pointer
 * on exact time ties keeps the key exact and the entry at 16 bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cal.h"

struct cal_ent {
    sim_time_t time;
    struct sim_event *ev;
};

/* A pool event: while free, ev.arg links the free list. */
struct cal_oneshot {
    struct sim_event ev;
    sim_event_fn fn;
};

struct cal_chunk {
    struct cal_chunk *next;
    size_t n;
    struct cal_oneshot ev[];
};

#define CAL_ALIGN      64
#define CAL_SHIFT      3       /* entries before logical node 0 */
#define CAL_MIN_CAP    61      /* (61 + 3) * 16 = 1024 bytes */
#define POOL_MIN_CHUNK 16
#define POOL_MAX_CHUNK 1024

_Static_assert(sizeof(struct cal_ent) == 16, "index entry is 16 bytes");
_Static_assert(sizeof(struct cal_oneshot) + sizeof(struct cal_ent) <= 64,
               "a pending pool event costs at most 64 bytes");
_Static_assert(sizeof(struct sim_event) + sizeof(struct cal_ent) <= 64,
               "a pending event costs at most 64 bytes");

struct sim_cal {
    struct cal_ent *h;        /* logical node 0; raw + CAL_SHIFT */
    struct cal_ent *raw;      /* the aligned allocation */
    size_t n, cap;            /* entries in use (hole included), room */
    bool hole;                /* h[0] is the event being run: vacant */
    sim_time_t now;
    uint64_t next_seq;
    struct cal_oneshot *free_list;
    struct cal_chunk *chunks;
    size_t pool_size;
    struct sim_cal_stats st;
    /* traces: see sim_cal_add_observer() */
    struct cal_obs {
        sim_cal_observer_fn fn;
        void *opaque;
    } obs[SIM_CAL_OBSERVERS_MAX];
    size_t nobs;
};

/* ---- ordering and heap moves ---- */

static bool tie_less(const struct cal_ent *a, const struct cal_ent *b)
{
    if (a->ev->prio != b->ev->prio) {
        return a->ev->prio < b->ev->prio;
    }
    return a->ev->seq < b->ev->seq;
}

/* Equal times are the rare case: keeping them off the main path lets the
 * compiler turn the child selection into conditional moves. */
static inline bool ent_less(const struct cal_ent *a, const struct cal_ent *b)
{
    if (__builtin_expect(a->time == b->time, 0)) {
        return tie_less(a, b);
    }
    return a->time < b->time;
}

static inline void put(struct sim_cal *cal, size_t i, struct cal_ent e)
{
    cal->h[i] = e;
    e.ev->slot = (uint32_t)(i + 1);
}

static void sift_up(struct sim_cal *cal, size_t i, struct cal_ent e)
{
    struct cal_ent *h = cal->h;

    while (i > 0) {
        size_t p = (i - 1) / 4;

        if (!ent_less(&e, &h[p])) {
            break;
        }
        put(cal, i, h[p]);
        i = p;
    }
    put(cal, i, e);
}

/* Index of the smallest of the children c .. c + k - 1 (k in 1..4). */
static inline size_t min_child(const struct cal_ent *h, size_t c, size_t k)
{
    size_t m = c;

    if (k == 4) {
        size_t a = ent_less(&h[c + 1], &h[c]) ? c + 1 : c;
        size_t b = ent_less(&h[c + 3], &h[c + 2]) ? c + 3 : c + 2;
        return ent_less(&h[b], &h[a]) ? b : a;
    }
    for (size_t j = c + 1; j < c + k; j++) {
        if (ent_less(&h[j], &h[m])) {
            m = j;
        }
    }
    return m;
}

/*
 * One level of sift_down for @e at node @i, by the full key: moves the least
 * child up and returns its index, or returns 0 when @e belongs at @i.
 */
static size_t step_exact(struct sim_cal *cal, size_t i,
                         const struct cal_ent *e)
{
    size_t c = 4 * i + 1, n = cal->n;
    size_t m = min_child(cal->h, c, n - c < 4 ? n - c : 4);

    if (!ent_less(&cal->h[m], e)) {
        return 0;
    }
    put(cal, i, cal->h[m]);
    return m;
}

/* The grandchildren of the group at @c: the next level's four lines. */
static inline void prefetch_grandchildren(const struct cal_ent *h, size_t c,
                                          size_t n)
{
    size_t g = 4 * c + 1, last = n - 1;

    if (g < n) {
        __builtin_prefetch(&h[g]);
        __builtin_prefetch(&h[g + 4 < last ? g + 4 : last]);
        __builtin_prefetch(&h[g + 8 < last ? g + 8 : last]);
        __builtin_prefetch(&h[g + 12 < last ? g + 12 : last]);
    }
}

/*
 * Full groups of four children are decided on time alone with conditional
 * moves; a group whose times tie where it matters, or the partial group at
 * the end, goes through step_exact(). The per-level latency (load four
 * children, pick one, load its children) is the cost of the heap, so large
 * heaps prefetch the next level's lines a level ahead.
 */
static void sift_down_deep(struct sim_cal *cal, size_t i, struct cal_ent e)
{
    struct cal_ent *h = cal->h;
    const size_t n = cal->n;
    const sim_time_t te = e.time;
    size_t c;

    while ((c = 4 * i + 1) < n) {
        if (c + 4 > n) {
            /* The last, partial group: its children are leaves. */
            size_t next = step_exact(cal, i, &e);

            i = next ? next : i;
            break;
        }
        if (n > 4096) {
            prefetch_grandchildren(h, c, n);
        }
        sim_time_t t0 = h[c].time, t1 = h[c + 1].time;
        sim_time_t t2 = h[c + 2].time, t3 = h[c + 3].time;
        size_t a = t1 < t0 ? c + 1 : c, b = t3 < t2 ? c + 3 : c + 2;
        sim_time_t ta = t1 < t0 ? t1 : t0, tb = t3 < t2 ? t3 : t2;
        size_t m = tb < ta ? b : a;
        sim_time_t tm = tb < ta ? tb : ta;

        if (__builtin_expect((t0 == t1) | (t2 == t3) | (ta == tb) |
                                 (tm == te), 0)) {
            size_t next = step_exact(cal, i, &e);

            if (next == 0) {
                break;
            }
            i = next;
            continue;
        }
        if (tm > te) {
            break;
        }
        put(cal, i, h[m]);
        i = m;
    }
    put(cal, i, e);
}

/* Leaves (a small heap, the bottom row) take the entry with no call. */
static inline void sift_down(struct sim_cal *cal, size_t i, struct cal_ent e)
{
    if (4 * i + 1 >= cal->n) {
        put(cal, i, e);
    } else {
        sift_down_deep(cal, i, e);
    }
}

/* Take the entry at @i out of the heap and repair it. */
static void heap_remove(struct sim_cal *cal, size_t i)
{
    struct cal_ent last;

    cal->h[i].ev->slot = 0;
    last = cal->h[--cal->n];
    if (i == cal->n) {
        return;
    }
    if (i > 0 && ent_less(&last, &cal->h[(i - 1) / 4])) {
        sift_up(cal, i, last);
    } else {
        sift_down(cal, i, last);
    }
}

/* Make the heap whole again after run_one left its root vacant. */
static inline void fill_hole(struct sim_cal *cal)
{
    if (cal->hole) {
        cal->hole = false;
        if (--cal->n > 0) {
            sift_down(cal, 0, cal->h[cal->n]);
        }
    }
}

static int heap_grow(struct sim_cal *cal)
{
    size_t cap = cal->cap ? cal->cap * 2 + CAL_SHIFT : CAL_MIN_CAP;
    size_t bytes = (cap + CAL_SHIFT) * sizeof(struct cal_ent);
    struct cal_ent *raw;

    if (cap > UINT32_MAX - 1) {
        return -ENOMEM;       /* slot is 32 bits */
    }
    bytes = (bytes + CAL_ALIGN - 1) / CAL_ALIGN * CAL_ALIGN;
    raw = aligned_alloc(CAL_ALIGN, bytes);
    if (!raw) {
        return -ENOMEM;
    }
    if (cal->n) {
        memcpy(raw + CAL_SHIFT, cal->h, cal->n * sizeof(struct cal_ent));
    }
    free(cal->raw);
    cal->raw = raw;
    cal->h = raw + CAL_SHIFT;
    cal->cap = cap;
    return 0;
}

/* ---- the public calendar ---- */

void sim_event_init(struct sim_event *ev, sim_event_fn fn, void *arg)
{
    *ev = (struct sim_event){ .fn = fn, .arg = arg };
}

struct sim_cal *sim_cal_new(void)
{
    struct sim_cal *cal = calloc(1, sizeof(*cal));

    if (cal && heap_grow(cal) != 0) {
        free(cal);
        return NULL;
    }
    return cal;
}

void sim_cal_free(struct sim_cal *cal)
{
    if (!cal) {
        return;
    }
    /* Dropped events stay the owner's; leave them not pending. */
    for (size_t i = cal->hole ? 1 : 0; i < cal->n; i++) {
        cal->h[i].ev->slot = 0;
    }
    while (cal->chunks) {
        struct cal_chunk *c = cal->chunks;

        cal->chunks = c->next;
        free(c);
    }
    free(cal->raw);
    free(cal);
}

sim_time_t sim_cal_now(const struct sim_cal *cal)
{
    return cal->now;
}

size_t sim_cal_pending(const struct sim_cal *cal)
{
    return cal->n - cal->hole;
}

/* Tell the observer, if any (traces record the calendar through it). */
static void notify(const struct sim_cal *cal, enum sim_cal_obs what,
                   sim_time_t at, int32_t prio, uint64_t seq)
{
    for (size_t i = 0; i < cal->nobs; i++) {
        cal->obs[i].fn(cal->obs[i].opaque, what, at, prio, seq);
    }
}

static inline void observe(struct sim_cal *cal, enum sim_cal_obs what,
                           const struct sim_event *ev)
{
    if (cal->nobs) {
        notify(cal, what, ev->time, ev->prio, ev->seq);
    }
}

/* Insert @ev, not pending, at @t >= now with a fresh sequence number. */
static inline __attribute__((always_inline)) int
insert(struct sim_cal *cal, struct sim_event *ev, sim_time_t t, int32_t prio)
{
    int rc;

    if (!cal->hole && cal->n == cal->cap && (rc = heap_grow(cal)) != 0) {
        return rc;
    }
    ev->time = t;
    ev->prio = prio;
    ev->seq = cal->next_seq++;
    if (cal->hole) {
        cal->hole = false;
        sift_down(cal, 0, (struct cal_ent){ t, ev });
    } else {
        sift_up(cal, cal->n++, (struct cal_ent){ t, ev });
    }
    cal->st.scheduled++;
    observe(cal, SIM_CAL_OBS_SCHED, ev);
    if (cal->n - cal->hole > cal->st.max_pending) {
        cal->st.max_pending = cal->n - cal->hole;
    }
    return 0;
}

/* The shared path of at/after; static so the library calls it directly. */
static inline int cal_at(struct sim_cal *cal, struct sim_event *ev,
                         sim_time_t t, int32_t prio)
{
    if (!ev || !ev->fn || t < cal->now) {
        return -EINVAL;
    }
    if (ev->slot != 0) {
        return -EBUSY;
    }
    return insert(cal, ev, t, prio);
}

int sim_cal_at(struct sim_cal *cal, struct sim_event *ev, sim_time_t t,
               int32_t prio)
{
    return cal_at(cal, ev, t, prio);
}

int sim_cal_after(struct sim_cal *cal, struct sim_event *ev,
                  sim_time_t delay, int32_t prio)
{
    if (delay > SIM_TIME_MAX - cal->now) {
        return -ERANGE;
    }
    return cal_at(cal, ev, cal->now + delay, prio);
}

/* True if @ev is pending on this calendar (not just on some calendar). */
static bool owned(const struct sim_cal *cal, const struct sim_event *ev)
{
    return ev->slot != 0 && ev->slot <= cal->n &&
           cal->h[ev->slot - 1].ev == ev;
}

int sim_cal_cancel(struct sim_cal *cal, struct sim_event *ev)
{
    if (!ev || !owned(cal, ev)) {
        return -ENOENT;
    }
    fill_hole(cal);
    heap_remove(cal, ev->slot - 1);
    cal->st.cancelled++;
    observe(cal, SIM_CAL_OBS_CANCEL, ev);
    return 0;
}

int sim_cal_reschedule(struct sim_cal *cal, struct sim_event *ev,
                       sim_time_t t)
{
    size_t i;

    if (!ev || !ev->fn || t < cal->now) {
        return -EINVAL;
    }
    if (ev->slot == 0) {
        return insert(cal, ev, t, ev->prio);
    }
    if (!owned(cal, ev)) {
        return -EINVAL;       /* pending on another calendar */
    }
    fill_hole(cal);
    /* The key changes in place; the new sequence keeps it FIFO-correct.
     * An observer sees what the header says it is: a cancel and a
     * schedule. */
    observe(cal, SIM_CAL_OBS_CANCEL, ev);
    i = ev->slot - 1;
    ev->time = t;
    ev->seq = cal->next_seq++;
    cal->h[i].time = t;
    cal->st.scheduled++;
    observe(cal, SIM_CAL_OBS_SCHED, ev);
    if (i > 0 && ent_less(&cal->h[i], &cal->h[(i - 1) / 4])) {
        sift_up(cal, i, cal->h[i]);
    } else {
        sift_down(cal, i, cal->h[i]);
    }
    return 0;
}

/* ---- the one-shot pool ---- */

static void oneshot_fire(struct sim_cal *cal, struct sim_event *ev)
{
    struct cal_oneshot *o = container_of(ev, struct cal_oneshot, ev);

    o->fn(cal, ev);
    /* A callback that rescheduled its own one-shot keeps it a while. */
    if (ev->slot == 0) {
        ev->arg = cal->free_list;
        cal->free_list = o;
    }
}

static int pool_grow(struct sim_cal *cal)
{
    size_t n = cal->pool_size ? cal->pool_size : POOL_MIN_CHUNK;
    struct cal_chunk *c;

    if (n > POOL_MAX_CHUNK) {
        n = POOL_MAX_CHUNK;
    }
    c = malloc(sizeof(*c) + n * sizeof(c->ev[0]));
    if (!c) {
        return -ENOMEM;
    }
    c->n = n;
    c->next = cal->chunks;
    cal->chunks = c;
    for (size_t i = 0; i < n; i++) {
        sim_event_init(&c->ev[i].ev, oneshot_fire, cal->free_list);
        cal->free_list = &c->ev[i];
    }
    cal->pool_size += n;
    return 0;
}

int sim_cal_post(struct sim_cal *cal, sim_time_t delay, int32_t prio,
                 sim_event_fn fn, void *arg)
{
    struct cal_oneshot *o;
    sim_time_t t;
    int rc;

    if (!fn) {
        return -EINVAL;
    }
    if (delay > SIM_TIME_MAX - cal->now) {
        return -ERANGE;
    }
    t = cal->now + delay;
    if (!cal->free_list && (rc = pool_grow(cal)) != 0) {
        return rc;
    }
    o = cal->free_list;
    cal->free_list = o->ev.arg;
    o->fn = fn;
    o->ev.arg = arg;
    rc = insert(cal, &o->ev, t, prio);
    if (rc != 0) {
        o->ev.arg = cal->free_list;
        cal->free_list = o;
    }
    return rc;
}

/* ---- running ---- */

/* The earliest entry, or NULL; with a hole, the least of its children. */
static const struct cal_ent *top(const struct sim_cal *cal)
{
    const struct cal_ent *m;

    if (!cal->hole) {
        return cal->n ? &cal->h[0] : NULL;
    }
    if (cal->n < 2) {
        return NULL;
    }
    m = &cal->h[min_child(cal->h, 1, cal->n - 1 < 4 ? cal->n - 1 : 4)];
    return m;
}

int sim_cal_peek(const struct sim_cal *cal, sim_time_t *t)
{
    const struct cal_ent *e = top(cal);

    if (!e) {
        return -ENOENT;
    }
    *t = e->time;
    return 0;
}

static inline int run_one(struct sim_cal *cal)
{
    struct sim_event *ev;

    fill_hole(cal);
    if (cal->n == 0) {
        return 0;
    }
    ev = cal->h[0].ev;
    cal->now = cal->h[0].time;
    ev->slot = 0;
    cal->hole = true;
    cal->st.fired++;
    if (cal->nobs) {
        /* The callback may free @ev: DONE gets the values, not the event. */
        sim_time_t t = ev->time;
        int32_t prio = ev->prio;
        uint64_t seq = ev->seq;

        notify(cal, SIM_CAL_OBS_FIRE, t, prio, seq);
        ev->fn(cal, ev);
        notify(cal, SIM_CAL_OBS_DONE, t, prio, seq);
        return 1;
    }
    ev->fn(cal, ev);
    return 1;
}

int sim_cal_run_one(struct sim_cal *cal)
{
    return run_one(cal);
}

long sim_cal_run_until(struct sim_cal *cal, sim_time_t t)
{
    long ran = 0;

    if (t < cal->now) {
        return -EINVAL;
    }
    for (;;) {
        fill_hole(cal);
        if (cal->n == 0 || cal->h[0].time > t) {
            break;
        }
        ran += run_one(cal);
    }
    /* A callback may have run the calendar past @t itself. */
    if (cal->now < t) {
        cal->now = t;
    }
    return ran;
}

long sim_cal_run_all(struct sim_cal *cal)
{
    long ran = 0;

    while (run_one(cal)) {
        ran++;
    }
    return ran;
}

int sim_cal_advance(struct sim_cal *cal, sim_time_t t)
{
    const struct cal_ent *e = top(cal);

    if (t < cal->now || (e && e->time < t)) {
        return -EINVAL;
    }
    cal->now = t;
    return 0;
}

void sim_cal_get_stats(const struct sim_cal *cal, struct sim_cal_stats *st)
{
    *st = cal->st;
    st->pool_size = cal->pool_size;
    st->index_capacity = cal->cap;
}

size_t sim_cal_bytes_per_event(void)
{
    /*
     * The worse of an embedded event (40 bytes) and a pool event (48), plus
     * its 16-byte entry. Not counted: the index's spare capacity (it
     * doubles, so up to as much again in entries) and pool events idle on
     * the free list.
     */
    size_t ev = sizeof(struct sim_event) > sizeof(struct cal_oneshot)
                    ? sizeof(struct sim_event)
                    : sizeof(struct cal_oneshot);
    return ev + sizeof(struct cal_ent);
}

bool sim_cal_check(const struct sim_cal *cal)
{
    if (cal->n > cal->cap || (cal->hole && cal->n == 0)) {
        return false;
    }
    for (size_t i = cal->hole ? 1 : 0; i < cal->n; i++) {
        const struct cal_ent *e = &cal->h[i];
        size_t p = (i - 1) / 4;

        if (e->ev->slot != i + 1 || e->ev->time != e->time ||
            e->time < cal->now || e->ev->seq >= cal->next_seq) {
            return false;
        }
        /* Under a hole the root's children have no parent to obey. */
        if (i > 0 && !(cal->hole && p == 0) && ent_less(e, &cal->h[p])) {
            return false;
        }
    }
    return true;
}

int sim_cal_add_observer(struct sim_cal *cal, sim_cal_observer_fn fn,
                         void *opaque)
{
    if (cal->nobs == SIM_CAL_OBSERVERS_MAX) {
        return -ENOSPC;
    }
    cal->obs[cal->nobs].fn = fn;
    cal->obs[cal->nobs].opaque = opaque;
    cal->nobs++;
    return 0;
}

void sim_cal_remove_observer(struct sim_cal *cal, sim_cal_observer_fn fn,
                             void *opaque)
{
    for (size_t i = 0; i < cal->nobs; i++) {
        if (cal->obs[i].fn == fn && cal->obs[i].opaque == opaque) {
            /* Keep the others in the order they were added. */
            memmove(&cal->obs[i], &cal->obs[i + 1],
                    (cal->nobs - i - 1) * sizeof(cal->obs[0]));
            cal->nobs--;
            return;
        }
    }
}
