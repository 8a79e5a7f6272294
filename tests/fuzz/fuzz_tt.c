/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_tt.c - the time-travel controller's message handling
 * (sim/tt.c)
 *
 * Each input is one simulation: a controller on a fresh socket path, its
 * calendar, and one to three participants connected as UMLs connect.
 * Input: a config byte (participants expected, FREE_UNTIL on or off,
 * participants connected), then steps { u8 ctl; 16-byte message }: ctl
 * picks the participant that sends it (bits 0-1), whether it dies instead
 * (bit 2) or right after sending, before reading the answer (bit 5), sends
 * only part of it (bit 3), and whether a back-end kick asks
 * sim_tt_kick_sync() afterwards (bit 4, as an in-band kick does). After each step
 * the event loop turns and the calendar runs while nothing holds it, as
 * cosim/backend/loop.c does, and whatever the controller sent is read,
 * until a turn changes nothing (at most FZ_TURNS turns). The
 * controller must never crash, run the calendar while a participant runs,
 * leave a kick's ack waiting once its participant is gone, or leave an
 * event on the event base it borrowed once it is freed.
 *
 * The event base is made once and borrowed by each input's controller, as
 * the back-end's loop lends its own.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim/tt.h"
#include "tests/fuzz/fuzz.h"

#define FZ_MAXP 3
#define FZ_TURNS 4

struct fz_tt {
    int holds;
    int syncs_waiting;
    unsigned calls;          /* hold, release and sync callbacks so far */
};

static char g_path[108];
static struct event_base *g_base;

static void fz_hold(void *o)
{
    struct fz_tt *s = o;

    s->holds++;
    s->calls++;
}

static void fz_release(void *o)
{
    struct fz_tt *s = o;

    fz_check(s->holds > 0);
    s->holds--;
    s->calls++;
}

static void fz_sync_done(void *arg)
{
    struct fz_tt *s = arg;

    fz_check(s->syncs_waiting > 0);
    s->syncs_waiting--;
    s->calls++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    snprintf(g_path, sizeof(g_path), "/tmp/vusim-fuzz-tt-%d.sock",
             (int)getpid());
    g_base = event_base_new();
    if (!g_base) {
        abort();
    }
    return 0;
}

static int fz_connect(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memcpy(a.sun_path, g_path, strlen(g_path) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    if (fd >= 0) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
    }
    return fd;
}

/* One turn: the event loop, the calendar while nothing holds it, and what
 * the controller sent. Returns whether anything happened: a calendar
 * event, bytes or a first end-of-file at a participant, a callback. */
static bool fz_turn_once(struct sim_cal *cal, struct fz_tt *s, const int *cl,
                         bool *eof, int n)
{
    unsigned calls = s->calls;
    struct sim_tt_msg m;
    bool any = false;
    ssize_t r;

    event_base_loop(g_base, EVLOOP_NONBLOCK);
    for (int i = 0; i < 16 && s->holds == 0 && sim_cal_pending(cal); i++) {
        sim_cal_run_one(cal);
        any = true;
    }
    for (int i = 0; i < n; i++) {
        r = -1;
        while (cl[i] >= 0 && (r = read(cl[i], &m, sizeof(m))) > 0) {
            any = true;
        }
        if (cl[i] >= 0 && r == 0 && !eof[i]) {
            eof[i] = true;           /* the controller dropped it */
            any = true;
        }
    }
    return any || s->calls != calls;
}

/* Turn at least @min times, then until a turn changes nothing, at most
 * FZ_TURNS times. At the start @min is the number of participants: the
 * controller accepts one connection per turn, and an accept shows nothing
 * to the peer. */
static void fz_turn(struct sim_cal *cal, struct fz_tt *s, const int *cl,
                    bool *eof, int n, int min)
{
    for (int k = 0; k < FZ_TURNS; k++) {
        if (!fz_turn_once(cal, s, cl, eof, n) && k + 1 >= min) {
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    struct fz_tt s = { 0, 0, 0 };
    struct sim_tt_ops ops = { .hold = fz_hold, .release = fz_release,
                              .opaque = &s };
    uint8_t c = fz_u8(&f);
    struct sim_tt_cfg cfg = {
        .path = g_path, .participants = 1 + (c & 1),
        .start_tod_ns = 1000000000ull, .free_until = (c & 2) != 0,
    };
    int cl[FZ_MAXP], n = 1 + (c >> 2) % FZ_MAXP;
    bool eof[FZ_MAXP] = { false, false, false };
    struct sim_cal *cal = sim_cal_new();
    struct sim_tt *tt = NULL;

    if (!cal || sim_tt_new(g_base, cal, &cfg, &ops, &tt) < 0) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        cl[i] = fz_connect();
    }
    fz_turn(cal, &s, cl, eof, n, n);
    while (fz_left(&f) > 0) {
        uint8_t ctl = fz_u8(&f);
        struct sim_tt_msg m;
        int who = (ctl & 3) % n;

        fz_bytes(&f, &m, sizeof(m));
        if (cl[who] >= 0 && (ctl & 4)) {
            close(cl[who]);          /* the UML dies */
            cl[who] = -1;
        } else if (cl[who] >= 0) {
            (void)send(cl[who], &m, sizeof(m) - (ctl & 8 ? 5 : 0),
                       MSG_NOSIGNAL);
            if (ctl & 0x20) {
                close(cl[who]);      /* dies before reading the answer */
                cl[who] = -1;
            }
        }
        fz_turn(cal, &s, cl, eof, n, 1);
        if ((ctl & 0x10) && !sim_tt_kick_sync(tt, fz_sync_done, &s)) {
            s.syncs_waiting++;
        }
        fz_check(s.syncs_waiting <= 1);
    }
    for (int i = 0; i < n; i++) {
        if (cl[i] >= 0) {
            close(cl[i]);
            cl[i] = -1;
        }
    }
    fz_turn(cal, &s, cl, eof, n, 1);
    fz_check(s.syncs_waiting == 0);
    sim_tt_free(tt);
    fz_check(s.holds == 0);
    fz_check(event_base_get_num_events(g_base, EVENT_BASE_COUNT_ADDED |
                                       EVENT_BASE_COUNT_ACTIVE) == 0);
    sim_cal_free(cal);
    return 0;
}
