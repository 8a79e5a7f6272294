/* SPDX-License-Identifier: MIT */
/*
 * The time-travel controller against fake UML participants that speak the
 * 6.1 wire protocol over real sockets, the controller in its own thread.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/frontend/vufe.h"
#include "sim/tt.h"
#include "tests/integration/itest.h"

struct ttfix {
    char path[108];
    struct vu_loop *loop;
    struct sim_tt *tt;
    pthread_t thr;
    struct sim_event dev_ev;
    int dev_fired;
    sim_time_t dev_fired_at;
};

/* How long a fake participant waits for an answer the controller owes it:
 * long, since it bounds only a failing run, and ASan on two busy cores
 * can stall a thread for seconds. */
#define TT_WAIT_MS 15000


static void *tt_thread(void *arg)
{
    vu_loop_run(((struct ttfix *)arg)->loop);
    return NULL;
}

static void dev_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct ttfix *f = ev->arg;

    f->dev_fired_at = sim_cal_now(cal);
    __atomic_fetch_add(&f->dev_fired, 1, __ATOMIC_RELEASE);
}

/* What an observer saw (test_observer). */
struct obs_log {
    unsigned n;
    struct { uint64_t id; int dir; struct sim_tt_msg m; uint64_t reply; }
        e[64];
};

static struct obs_log *g_obs;   /* set: fix_start installs the observer */

static void obs_fn(void *opaque, uint64_t id, enum sim_tt_dir dir,
                   const struct sim_tt_msg *m, uint64_t reply)
{
    struct obs_log *l = opaque;

    if (l->n < 64) {
        l->e[l->n].id = id;
        l->e[l->n].dir = dir;
        l->e[l->n].m = *m;
        l->e[l->n].reply = reply;
    }
    l->n++;
}

/* A controller expecting @n participants; a device event at @dev_at (0:
 * none) stands for device work on the same calendar. */
static void fix_start(struct ttfix *f, unsigned n, sim_time_t dev_at)
{
    static unsigned k;
    struct sim_tt_ops ops;
    struct sim_tt_cfg cfg = { .participants = n,
                              .start_tod_ns = 1000000000000ull,
                              .free_until = true };

    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/vusim-tt-%d-%u.sock",
             (int)getpid(), ++k);
    f->loop = vu_loop_new(NULL);
    vu_loop_set_poll(f->loop, VUSIM_POLL_NS);   /* as the program runs */
    vu_loop_tt_ops(f->loop, &ops);
    cfg.path = f->path;
    CU_ASSERT_EQUAL_FATAL(sim_tt_new(vu_loop_base(f->loop),
                                     vu_loop_cal(f->loop), &cfg, &ops,
                                     &f->tt), 0);
    if (g_obs) {
        sim_tt_set_observer(f->tt, obs_fn, g_obs);
    }
    if (dev_at) {
        sim_event_init(&f->dev_ev, dev_cb, f);
        sim_cal_at(vu_loop_cal(f->loop), &f->dev_ev, dev_at, 0);
    }
    pthread_create(&f->thr, NULL, tt_thread, f);
}

static void fix_stop(struct ttfix *f, struct sim_tt_stats *st)
{
    char b = 1;

    CU_ASSERT_EQUAL(write(vu_loop_stop_fd(f->loop), &b, 1), 1);
    pthread_join(f->thr, NULL);
    if (st) {
        sim_tt_get_stats(f->tt, st);
    }
    sim_tt_free(f->tt);
    vu_loop_free(f->loop);
}

/* ---- a fake UML -------------------------------------------------------- */

struct uml {
    int fd;
    uint32_t seq;
    uint64_t free_until;
    bool fu_valid;
};

static int uml_connect(struct uml *u, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    memset(u, 0, sizeof(*u));
    strcpy(sa.sun_path, path);
    u->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return connect(u->fd, (struct sockaddr *)&sa, sizeof(sa));
}

static int uml_recv(struct uml *u, struct sim_tt_msg *m, int ms)
{
    struct pollfd p = { u->fd, POLLIN, 0 };

    if (poll(&p, 1, ms) <= 0) {
        return -ETIMEDOUT;
    }
    return read(u->fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -ENOTCONN;
}

/* Handle a controller message as UML does: note it, ack it. */
static void uml_handle(struct uml *u, const struct sim_tt_msg *m)
{
    struct sim_tt_msg a = { SIM_TT_ACK, m->seq, 0 };

    if (m->op == SIM_TT_FREE_UNTIL) {
        u->free_until = m->time;
        u->fu_valid = true;
    }
    CU_ASSERT_EQUAL(write(u->fd, &a, sizeof(a)), sizeof(a));
}

/* Send a request and wait for its ack, serving RUN/FREE_UNTIL meanwhile;
 * returns the ack's time, or (uint64_t)-1 on timeout. */
static uint64_t uml_req(struct uml *u, uint32_t op, uint64_t t, int ms)
{
    struct sim_tt_msg m = { op, ++u->seq, t };

    if (write(u->fd, &m, sizeof(m)) != sizeof(m)) {
        return (uint64_t)-1;
    }
    for (;;) {
        if (uml_recv(u, &m, ms) < 0) {
            return (uint64_t)-1;
        }
        if (m.op == SIM_TT_ACK) {
            CU_ASSERT_EQUAL(m.seq, u->seq);
            return m.time;
        }
        uml_handle(u, &m);
    }
}

/* WAIT, then serve messages until RUN: returns the RUN time. */
static uint64_t uml_wait(struct uml *u, int ms)
{
    struct sim_tt_msg m;

    u->fu_valid = false;
    if (uml_req(u, SIM_TT_WAIT, (uint64_t)-1, ms) == (uint64_t)-1) {
        return (uint64_t)-1;
    }
    for (;;) {
        if (uml_recv(u, &m, ms) < 0) {
            return (uint64_t)-1;
        }
        uml_handle(u, &m);
        if (m.op == SIM_TT_RUN) {
            return m.time;
        }
    }
}

/* Boot: START, GET_TOD, GET, as UML 6.1 does. */
static void test_boot_and_clock(void)
{
    struct ttfix f;
    struct uml u;

    fix_start(&f, 1, 0);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&u, f.path), 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_START, 7, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET_TOD, 0, TT_WAIT_MS),
                    1000000000000ull);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET, 0, TT_WAIT_MS), 0);
    /* The tick: request 10 ms, wait, run at exactly 10 ms. */
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_REQUEST, 10000000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_wait(&u, TT_WAIT_MS), 10000000);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET, 0, TT_WAIT_MS), 10000000);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET_TOD, 0, TT_WAIT_MS),
                    1000000000000ull + 10000000);
    close(u.fd);
    fix_stop(&f, NULL);
}

/* Device work between now and the guest's request runs first, while the
 * guest waits, and FREE_UNTIL never lets a guest pass a foreign event. */
static void test_device_event_and_free_until(void)
{
    struct sim_tt_stats st;
    struct ttfix f;
    struct uml u;

    fix_start(&f, 1, 5 * SIM_MS);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&u, f.path), 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_START, 0, TT_WAIT_MS), 0);
    /* Running: the device event must not fire while the guest runs. The
     * GET round trips prove the controller's loop turned meanwhile (under
     * the afap clock an unheld calendar would have run the event in the
     * first of those turns), so this check fails without the hold. */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET, 0, TT_WAIT_MS), 0);
        usleep(2000);
    }
    CU_ASSERT_EQUAL(__atomic_load_n(&f.dev_fired, __ATOMIC_ACQUIRE), 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_REQUEST, 2000000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_wait(&u, TT_WAIT_MS), 2000000);
    CU_ASSERT(u.fu_valid);
    CU_ASSERT_EQUAL(u.free_until, 5000000);     /* the device's event */
    CU_ASSERT_EQUAL(f.dev_fired, 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_REQUEST, 8000000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_wait(&u, TT_WAIT_MS), 8000000);
    CU_ASSERT_EQUAL(f.dev_fired, 1);
    CU_ASSERT_EQUAL(f.dev_fired_at, 5 * SIM_MS);
    /* UPDATE moves the calendar; time never goes back. */
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_UPDATE, 8500000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&u, SIM_TT_GET, 0, TT_WAIT_MS), 8500000);
    close(u.fd);
    fix_stop(&f, &st);
    CU_ASSERT(st.free_untils >= 2);
    CU_ASSERT_EQUAL(st.runs, 2);
}

/* Participants start in ID order whatever order they connect in; only one
 * runs at a time. */
static void test_start_order(void)
{
    struct ttfix f;
    struct uml a, b;
    struct sim_tt_msg m, s1 = { SIM_TT_START, 1, 1 }, s0 = { SIM_TT_START,
                                                             1, 0 };

    fix_start(&f, 2, 0);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&b, f.path), 0);   /* id 1 first */
    CU_ASSERT_EQUAL(write(b.fd, &s1, sizeof(s1)), sizeof(s1));
    b.seq = 1;
    CU_ASSERT_EQUAL(uml_recv(&b, &m, 200), -ETIMEDOUT);  /* not alone */
    CU_ASSERT_EQUAL_FATAL(uml_connect(&a, f.path), 0);
    CU_ASSERT_EQUAL(write(a.fd, &s0, sizeof(s0)), sizeof(s0));
    a.seq = 1;
    CU_ASSERT_EQUAL(uml_recv(&a, &m, TT_WAIT_MS), 0);   /* id 0 starts */
    CU_ASSERT(m.op == SIM_TT_ACK && m.seq == 1);
    CU_ASSERT_EQUAL(uml_recv(&b, &m, 200), -ETIMEDOUT);  /* 1 still waits */
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_REQUEST, 1000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_WAIT, 0, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_recv(&b, &m, TT_WAIT_MS), 0);   /* now id 1 */
    CU_ASSERT(m.op == SIM_TT_ACK && m.seq == 1);
    /* 1 runs; 0's RUN at 1 us comes only after 1 waits. */
    CU_ASSERT_EQUAL(uml_recv(&a, &m, 200), -ETIMEDOUT);
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_REQUEST, 3000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_WAIT, 0, TT_WAIT_MS), 0);
    do {
        CU_ASSERT_EQUAL_FATAL(uml_recv(&a, &m, TT_WAIT_MS), 0);
        uml_handle(&a, &m);
    } while (m.op != SIM_TT_RUN);
    CU_ASSERT_EQUAL(m.time, 1000);
    close(a.fd);
    close(b.fd);
    fix_stop(&f, NULL);
}

/* A participant that breaks the protocol is dropped; the other goes on. */
static void test_bad_participant_dropped(void)
{
    struct sim_tt_stats st;
    struct ttfix f;
    struct uml a, b;
    struct sim_tt_msg m, bad = { 42, 2, 0 }, s1 = { SIM_TT_START, 1, 1 };

    fix_start(&f, 2, 0);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&a, f.path), 0);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&b, f.path), 0);
    CU_ASSERT_EQUAL(write(b.fd, &s1, sizeof(s1)), sizeof(s1));
    b.seq = 1;
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_START, 0, TT_WAIT_MS), 0);
    /* An unknown op: a is dropped, and b, which waited, starts. */
    CU_ASSERT_EQUAL(write(a.fd, &bad, sizeof(bad)), sizeof(bad));
    CU_ASSERT_EQUAL(uml_recv(&a, &m, TT_WAIT_MS), -ENOTCONN);
    CU_ASSERT_EQUAL(uml_recv(&b, &m, TT_WAIT_MS), 0);
    CU_ASSERT(m.op == SIM_TT_ACK && m.seq == 1);
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_UPDATE, 5000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_GET, 0, TT_WAIT_MS), 5000);
    /* Time going backwards: b is dropped too. */
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_UPDATE, 10, 500), (uint64_t)-1);
    close(a.fd);
    close(b.fd);
    fix_stop(&f, &st);
    CU_ASSERT_EQUAL(st.dropped, 2);
}

/* The observer sees START when it is acked, in ID order, each guest
 * message once with its reply, and the controller's RUN and FREE_UNTIL;
 * never the guests' ACKs. */
static void test_observer(void)
{
    struct obs_log log = { 0 };
    struct ttfix f;
    struct uml a, b;
    struct sim_tt_msg m, s1 = { SIM_TT_START, 1, 1 }, s0 = { SIM_TT_START,
                                                             1, 0 };

    g_obs = &log;
    fix_start(&f, 2, 0);
    g_obs = NULL;
    CU_ASSERT_EQUAL_FATAL(uml_connect(&b, f.path), 0);   /* id 1 first */
    CU_ASSERT_EQUAL(write(b.fd, &s1, sizeof(s1)), sizeof(s1));
    b.seq = 1;
    CU_ASSERT_EQUAL(uml_recv(&b, &m, 200), -ETIMEDOUT);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&a, f.path), 0);
    CU_ASSERT_EQUAL(write(a.fd, &s0, sizeof(s0)), sizeof(s0));
    a.seq = 1;
    CU_ASSERT_EQUAL(uml_recv(&a, &m, 2000), 0);          /* id 0 starts */
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_GET_TOD, 0, 2000), 1000000000000ull);
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_REQUEST, 1000, 2000), 0);
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_WAIT, (uint64_t)-1, 2000), 0);
    CU_ASSERT_EQUAL(uml_recv(&b, &m, 2000), 0);          /* now id 1 */
    CU_ASSERT_EQUAL(uml_req(&b, SIM_TT_WAIT, (uint64_t)-1, 2000), 0);
    do {
        CU_ASSERT_EQUAL_FATAL(uml_recv(&a, &m, 2000), 0);
        uml_handle(&a, &m);
    } while (m.op != SIM_TT_RUN);
    CU_ASSERT_EQUAL(uml_req(&a, SIM_TT_GET, 0, 2000), 1000);
    close(a.fd);
    close(b.fd);
    fix_stop(&f, NULL);
    /* 0 START, GET_TOD, REQUEST, WAIT; 1 START, WAIT; 0 FREE_UNTIL, RUN,
     * GET. */
    CU_ASSERT_EQUAL_FATAL(log.n, 9);
    CU_ASSERT(log.e[0].id == 0 && log.e[0].m.op == SIM_TT_START &&
              log.e[0].dir == SIM_TT_FROM_GUEST);
    CU_ASSERT(log.e[1].m.op == SIM_TT_GET_TOD &&
              log.e[1].reply == 1000000000000ull);
    CU_ASSERT(log.e[2].m.op == SIM_TT_REQUEST && log.e[2].m.time == 1000);
    CU_ASSERT(log.e[3].m.op == SIM_TT_WAIT && log.e[3].id == 0);
    CU_ASSERT(log.e[4].id == 1 && log.e[4].m.op == SIM_TT_START);
    CU_ASSERT(log.e[5].id == 1 && log.e[5].m.op == SIM_TT_WAIT);
    CU_ASSERT(log.e[6].id == 0 && log.e[6].m.op == SIM_TT_FREE_UNTIL &&
              log.e[6].dir == SIM_TT_TO_GUEST);
    CU_ASSERT(log.e[7].m.op == SIM_TT_RUN && log.e[7].m.time == 1000 &&
              log.e[7].dir == SIM_TT_TO_GUEST);
    CU_ASSERT(log.e[8].m.op == SIM_TT_GET && log.e[8].reply == 1000);
}

/* ---- a back-end on the controller's calendar ------------------------- */

/*
 * vusim's set-up under time travel (cosim/program/vusim_run.c): the
 * controller and a back-end with an echo device share one loop, and every
 * message's work bounds the running guest before its reply (reply_sync).
 * The guest is a fake participant whose socket a thread of its own serves,
 * as QEMU's time-travel object does: it acks FREE_UNTIL and RUN at once and
 * notes the last bound. The front-end is vufe, in-band.
 */
struct ttbe {
    struct itest t;
    char ttpath[108];
    struct sim_tt *tt;
    struct uml u;
    pthread_t reader;
    int stop;                   /* atomic: the reader ends */
    uint64_t free_until;        /* atomic: the last FREE_UNTIL acked */
    int fus;                    /* atomic: FREE_UNTILs acked by the reader */
    int wait_not_ack;           /* set before the reader: a hostile guest */
};

static void ttbe_resume(void *arg)
{
    vu_backend_reply_resume(arg);
}

static bool ttbe_sync(struct vu_backend *be, void *opaque)
{
    return sim_tt_kick_sync(opaque, ttbe_resume, be);
}

/* No CUnit here: it is not thread-safe. */
static void *ttbe_reader(void *arg)
{
    struct ttbe *f = arg;
    struct sim_tt_msg m, a = { SIM_TT_ACK, 0, 0 };

    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = { f->u.fd, POLLIN, 0 };

        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        if (read(f->u.fd, &m, sizeof(m)) != sizeof(m)) {
            break;
        }
        if (m.op == SIM_TT_ACK) {
            continue;           /* the controller's ack of our WAIT */
        }
        if (m.op == SIM_TT_FREE_UNTIL) {
            __atomic_store_n(&f->free_until, m.time, __ATOMIC_RELEASE);
            __atomic_fetch_add(&f->fus, 1, __ATOMIC_RELEASE);
        }
        a.seq = m.seq;
        if (m.op == SIM_TT_FREE_UNTIL && f->wait_not_ack) {
            a = (struct sim_tt_msg){ SIM_TT_WAIT, 100, 0 };
        }
        if (write(f->u.fd, &a, sizeof(a)) != sizeof(a)) {
            break;
        }
        a = (struct sim_tt_msg){ SIM_TT_ACK, 0, 0 };
    }
    return NULL;
}

/* The controller, the back-end (echo latency @latency) and a guest that
 * runs from 1 us with no foreign event to bound it. */
static void ttbe_start(struct ttbe *f, sim_time_t latency, bool hostile)
{
    static unsigned k;
    struct sim_tt_ops ops;
    struct sim_tt_cfg cfg = { .participants = 1, .free_until = true };
    struct vu_backend_cfg bc = { .inband = VU_INBAND_ON, .conn_id = 1,
                                 .reply_sync = ttbe_sync };
    struct vu_loop *loop;

    memset(f, 0, sizeof(*f));
    snprintf(f->ttpath, sizeof(f->ttpath), "/tmp/vusim-ttbe-%d-%u.sock",
             (int)getpid(), ++k);
    loop = f->t.h.loop = harness_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    vu_loop_tt_ops(loop, &ops);
    cfg.path = f->ttpath;
    CU_ASSERT_EQUAL_FATAL(sim_tt_new(vu_loop_base(loop), vu_loop_cal(loop),
                                     &cfg, &ops, &f->tt), 0);
    bc.sync_opaque = f->tt;
    f->t.dev = echodev_new(vu_loop_cal(loop), 1, latency);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->t.dev);
    CU_ASSERT_EQUAL_FATAL(harness_start(&f->t.h, &f->t.dev->dev, &bc, 0), 0);
    CU_ASSERT_EQUAL_FATAL(uml_connect(&f->u, f->ttpath), 0);
    CU_ASSERT_EQUAL(uml_req(&f->u, SIM_TT_START, 0, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_req(&f->u, SIM_TT_REQUEST, 1000, TT_WAIT_MS), 0);
    CU_ASSERT_EQUAL(uml_wait(&f->u, TT_WAIT_MS), 1000);
    CU_ASSERT(f->u.fu_valid && f->u.free_until == (uint64_t)INT64_MAX - 1);
    f->wait_not_ack = hostile;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&f->reader, NULL, ttbe_reader, f),
                          0);
}

/* Stop and free everything; what the tests check afterwards is copied
 * out first (the device is freed here). */
static void ttbe_stop(struct ttbe *f, struct vu_backend_stats *bst,
                      struct sim_tt_stats *tst, uint64_t *popped)
{
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    pthread_join(f->reader, NULL);
    harness_stop(&f->t.h);
    vu_backend_get_stats(f->t.h.be, bst);
    sim_tt_get_stats(f->tt, tst);
    close(f->u.fd);
    sim_tt_free(f->tt);
    harness_free(&f->t.h);
    *popped = f->t.dev->popped;
    echodev_free(f->t.dev);
}

/* A front-end in the suite's mode (in-band) whose ring 0 holds one request
 * the back-end has not seen: the ring was off when the guest kicked. */
static struct vufe *ttbe_fe_with_request(struct ttbe *f)
{
    struct vufe_cfg cfg;
    struct vufe *fe;
    struct vufe_buf b[2];
    int err = 0;

    itest_fe_cfg(&f->t, &cfg, 1);
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fe);
    CU_ASSERT_EQUAL(vufe_set_vring_enable(fe, 0, false), 0);
    b[0] = (struct vufe_buf){ vufe_alloc(fe, 64, 16), 64, false };
    b[1] = (struct vufe_buf){ vufe_alloc(fe, 64, 16), 64, true };
    CU_ASSERT(vufe_add(fe, 0, b, 2, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(fe, 0), 0);
    /* Nothing was scheduled, so the guest's bound did not move. */
    CU_ASSERT_EQUAL(__atomic_load_n(&f->fus, __ATOMIC_ACQUIRE), 0);
    return fe;
}

/* A guest with a request the back-end has not seen (ttbe_fe_with_request)
 * enables the ring through @enable; the look's work (the completion at
 * 1 us + 50 us) must bound the guest, and the back-end pops the request
 * once. The back-end's and the controller's counts go to @bst, @tst. */
static void look_run(void (*enable)(struct ttbe *f, struct vufe *fe),
                     struct vu_backend_stats *bst, struct sim_tt_stats *tst,
                     bool hostile)
{
    struct ttbe f;
    struct vufe *fe;
    uint64_t popped;

    ttbe_start(&f, 50 * SIM_US, hostile);
    fe = ttbe_fe_with_request(&f);
    enable(&f, fe);
    CU_ASSERT_EQUAL(__atomic_load_n(&f.free_until, __ATOMIC_ACQUIRE),
                    1000 + 50000);
    vufe_free(fe);
    ttbe_stop(&f, bst, tst, &popped);
    CU_ASSERT_EQUAL(popped, 1);
}

/* SET_VRING_ENABLE with NEED_REPLY: the bound is there when it returns. */
static void enable_waited(struct ttbe *f, struct vufe *fe)
{
    CU_ASSERT_EQUAL(vufe_set_vring_enable(fe, 0, true), 0);
    CU_ASSERT_EQUAL(__atomic_load_n(&f->fus, __ATOMIC_ACQUIRE), 1);
}

/* Enabling the ring makes the back-end look at it before the reply: the
 * request's completion goes on the calendar at 1 us + 50 us, and the
 * running guest must have that bound before its SET_VRING_ENABLE returns.
 * (Before, only a kick's work moved the bound: the guest ran on past the
 * completion up to its old bound, here forever.) */
static void test_ring_look_bounds_guest(void)
{
    struct vu_backend_stats bst;
    struct sim_tt_stats tst;

    look_run(enable_waited, &bst, &tst, false);
    CU_ASSERT_EQUAL(tst.kick_syncs, 1);
    CU_ASSERT_EQUAL(bst.looks_unwaited, 0);
}

/* SET_VRING_ENABLE without NEED_REPLY, then (once the guest has its bound)
 * the same with it, which the back-end must answer. */
static void enable_unwaited(struct ttbe *f, struct vufe *fe)
{
    struct vu_vring_state on = { .index = 0, .num = 1 };

    CU_ASSERT_EQUAL(vufe_request(fe, VU_REQ_SET_VRING_ENABLE, &on,
                                 sizeof(on), NULL, 0, 0, NULL), 0);
    for (int i = 0; i < TT_WAIT_MS &&
         __atomic_load_n(&f->fus, __ATOMIC_ACQUIRE) == 0; i++) {
        usleep(1000);
    }
    CU_ASSERT_EQUAL(__atomic_load_n(&f->free_until, __ATOMIC_ACQUIRE),
                    1000 + 50000);
    CU_ASSERT_EQUAL(vufe_set_vring_enable(fe, 0, true), 0);
}

/* The same enable without NEED_REPLY: the front-end does not wait, so the
 * look is counted as unwaited, runs at once (not at the end of a batch)
 * and still bounds the guest; the back-end reads the socket again once the
 * guest has the bound, and answers the next message. */
static void test_unwaited_look_counted(void)
{
    struct vu_backend_stats bst;
    struct sim_tt_stats tst;

    look_run(enable_unwaited, &bst, &tst, false);
    CU_ASSERT_EQUAL(bst.looks_unwaited, 1);
    CU_ASSERT_EQUAL(tst.kick_syncs, 1);
}

/* A guest that answers the bound with WAIT instead of an ack (UML never
 * does; a hostile peer may). It has stopped running, so it cannot pass the
 * look's event: the held reply goes, and the next participant to run
 * cannot find a second kick's sync still pending (tests/fuzz/regress/tt/
 * wait-with-sync-pending). */
static void test_wait_ends_sync(void)
{
    struct vu_backend_stats bst;
    struct sim_tt_stats tst;

    look_run(enable_waited, &bst, &tst, true);
    CU_ASSERT_EQUAL(tst.kick_syncs, 1);
    CU_ASSERT_EQUAL(tst.rx[SIM_TT_WAIT], 2);
    CU_ASSERT_EQUAL(tst.dropped, 0);
}

CU_TestInfo tt_tests[] = {
    { "boot_and_clock", test_boot_and_clock },
    { "device_event_and_free_until", test_device_event_and_free_until },
    { "start_order", test_start_order },
    { "observer", test_observer },
    { "bad_participant_dropped", test_bad_participant_dropped },
    { "ring_look_bounds_guest", test_ring_look_bounds_guest },
    { "unwaited_look_counted", test_unwaited_look_counted },
    { "wait_ends_sync", test_wait_ends_sync },
    CU_TEST_INFO_NULL,
};
