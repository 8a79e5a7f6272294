/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"
#include "sim/wallclock.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct bench_stat bench_stat(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return (struct bench_stat){ v[n / 2], v[0], v[n - 1] };
}

struct bench_stat bench_fig_stat(const struct bench_fig *f, int n,
                                 size_t field)
{
    double v[n];

    for (int i = 0; i < n; i++) {
        memcpy(&v[i], (const char *)&f[i] + field, sizeof(double));
    }
    return bench_stat(v, n);
}

void bench_print_head(void)
{
    printf("%-22s %9s %9s %9s %9s %9s %9s %5s %5s\n", "", "wall-med",
           "wall-min", "wall-max", "cpu-fe", "cpu-be", "cpu-both", "sl-fe",
           "sl-be");
}

/* The statistics of one field of struct bench_fig over @n rounds. */
#define FIG_STAT(f, n, field) \
    bench_fig_stat((f), (n), offsetof(struct bench_fig, field))

void bench_print_row(const char *name, const struct bench_fig *f, int n)
{
    struct bench_stat w = FIG_STAT(f, n, ns);
    struct bench_stat fe = FIG_STAT(f, n, fe_cpu_ns);
    struct bench_stat be = FIG_STAT(f, n, be_cpu_ns);
    struct bench_stat fs = FIG_STAT(f, n, fe_sleeps);
    struct bench_stat bs = FIG_STAT(f, n, be_sleeps);

    printf("%-22s %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %5.2f %5.2f\n", name,
           w.med, w.min, w.max, fe.med, be.med, fe.med + be.med, fs.med,
           bs.med);
}

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;

    if (clock_gettime(c, &ts) != 0) {
        perror("bench: clock_gettime");
        exit(1);
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Voluntary context switches of @pid so far: the times it slept. */
static uint64_t sleeps(pid_t pid)
{
    char path[64], line[128];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

void bench_meter_start(struct bench_meter *m, pid_t peer)
{
    m->pid = peer;
    m->sl_peer0 = sleeps(peer);
    m->sl_self0 = sleeps(getpid());
    if (clock_getcpuclockid(peer, &m->peer) != 0) {
        fprintf(stderr, "bench: no CPU clock for process %d\n", (int)peer);
        exit(1);
    }
    m->peer0 = clock_ns(m->peer);
    m->self0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    m->wall0 = vusim_wallclock_ns();
}

void bench_meter_stop(struct bench_meter *m, long iters,
                      struct bench_fig *out)
{
    uint64_t wall = vusim_wallclock_ns() - m->wall0;
    uint64_t self = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - m->self0;
    uint64_t peer = clock_ns(m->peer) - m->peer0;

    out->ns = (double)wall / (double)iters;
    out->fe_cpu_ns = (double)self / (double)iters;
    out->be_cpu_ns = (double)peer / (double)iters;
    out->fe_sleeps = (double)(sleeps(getpid()) - m->sl_self0) / (double)iters;
    out->be_sleeps = (double)(sleeps(m->pid) - m->sl_peer0) / (double)iters;
}

/* ---- the raw peer, polling as cosim/backend/loop.c does ---------------------- */

struct poller {
    uint64_t max_ns, ns;
};

/* A sleep that ended soon: poll that long next time (twice, for margin). */
static void poll_learn(struct poller *p, uint64_t slept_ns)
{
    if (slept_ns < p->max_ns) {
        uint64_t want = 2 * slept_ns;

        p->ns = want < p->max_ns ? want : p->max_ns;
        if (p->ns < 1000) {
            p->ns = 1000;
        }
    }
}

/* Spin on non-blocking reads for the window; 1 if something came. */
static ssize_t poll_spin(int fd, void *buf, size_t n, struct poller *p)
{
    uint64_t t0 = vusim_wallclock_ns();

    do {
        ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);

        if (r != 0 && !(r < 0 && errno == EAGAIN)) {
            if (r > 0 && p->ns < p->max_ns) {
                p->ns *= 2;
            }
            return r;
        }
        if (r == 0) {
            return 0;
        }
    } while (vusim_wallclock_ns() - t0 < p->ns);
    p->ns /= 2;
    if (p->ns < 1000) {
        p->ns = 1000;
    }
    return -EAGAIN;
}

/* Exactly @n bytes from @fd; false at end of file or on error. */
static bool peer_read(int fd, char *buf, size_t n, struct poller *p)
{
    size_t got = 0;
    ssize_t r = -EAGAIN;

    if (p->max_ns) {
        r = poll_spin(fd, buf, n, p);
        if (r == 0 || (r < 0 && r != -EAGAIN)) {
            return false;
        }
    }
    if (r == -EAGAIN) {
        uint64_t t0 = vusim_wallclock_ns();

        r = read(fd, buf, n);
        if (p->max_ns) {
            poll_learn(p, vusim_wallclock_ns() - t0);
        }
    }
    while (r > 0 && (got += (size_t)r) < n) {
        r = read(fd, buf + got, n - got);
    }
    return got == n;
}

/* The peer's steps: its own after a '/', else the mirror of the driver's
 * (every w read, every r written). */
static void peer_run(const char *pattern, int fd[2], size_t size,
                     uint64_t poll_ns)
{
    struct poller p = { poll_ns, poll_ns };
    const char *own = strchr(pattern, '/');
    bool mirror = own == NULL;
    char buf[256] = { 0 };

    pattern = own ? own + 1 : pattern;
    for (;;) {
        for (const char *s = pattern; s[0] && s[1]; s += 2) {
            int f = fd[s[1] - '0'];
            bool rd = (s[0] == 'r') != mirror;

            if (rd ? !peer_read(f, buf, size, &p)
                   : write(f, buf, size) != (ssize_t)size) {
                _exit(0);
            }
        }
    }
}

static void drive(const char *pattern, int fd[2], size_t size)
{
    char buf[256] = { 0 };

    for (const char *s = pattern; s[0] && s[1] && s[0] != '/'; s += 2) {
        int f = fd[s[1] - '0'];
        ssize_t r = s[0] == 'w' ? write(f, buf, size) : read(f, buf, size);

        if (r != (ssize_t)size) {
            perror("bench: raw baseline");
            exit(1);
        }
    }
}

void bench_raw(const char *pattern, size_t size, long iters,
               uint64_t poll_ns, struct bench_fig *out)
{
    int a[2], b[2], mine[2], theirs[2];
    struct bench_meter m;
    pid_t pid;

    if (size > 256 || socketpair(AF_UNIX, SOCK_STREAM, 0, a) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0) {
        perror("bench: socketpair");
        exit(1);
    }
    mine[0] = a[0], mine[1] = b[0], theirs[0] = a[1], theirs[1] = b[1];
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        exit(1);
    }
    if (pid == 0) {
        close(mine[0]);
        close(mine[1]);
        peer_run(pattern, theirs, size, poll_ns);
    }
    close(theirs[0]);
    close(theirs[1]);
    for (long i = 0; i < iters / 10; i++) {
        drive(pattern, mine, size);
    }
    bench_meter_start(&m, pid);
    for (long i = 0; i < iters; i++) {
        drive(pattern, mine, size);
    }
    bench_meter_stop(&m, iters, out);
    close(mine[0]);
    close(mine[1]);
    waitpid(pid, NULL, 0);
}

/* In-band as UML; @config_size bytes of config space read at set-up. */
static struct vufe *connect_inband(const char *path, const char *who,
                                   uint32_t config_size)
{
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0;

    vufe_cfg_init(&cfg);
    cfg.path = path;
    cfg.config_size = config_size;
    cfg.notify = VUFE_NOTIFY_INBAND;
    cfg.event_idx = false;
    /* Like UML: block on the ack alone; the back-end never makes a kick's
     * ack wait for a call's. */
    cfg.strict_order = true;
    fe = vufe_open(&cfg, &err);
    if (!fe) {
        fprintf(stderr, "%s: cannot connect: %s\n", who, strerror(-err));
        exit(1);
    }
    return fe;
}

struct vufe *bench_connect_inband(const char *path, const char *who)
{
    return connect_inband(path, who, 0);
}

struct vufe *bench_connect_req(const char *path, const char *who,
                               const struct dev_ops *ops,
                               struct bench_req *r)
{
    struct vufe *fe;
    char err[256] = "";

    if (!ops || !ops->work || !ops->work->fetch) {
        fprintf(stderr, "%s: the device has no plain request "
                "(devices/work.h)\n", who);
        exit(1);
    }
    *r = (struct bench_req){ .ops = ops->work };
    fe = connect_inband(path, who, r->ops->config_size);
    if (vufe_work_open(fe, r->ops, &r->slot, 1, &r->w, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        exit(1);
    }
    return fe;
}

void bench_req_add(struct vufe *fe, struct bench_req *r, uint64_t at,
                   uint32_t len, const char *who)
{
    int rc = r->ops->fetch(r->w, 0, at, len, r->slot.buf);

    if (rc == 0) {
        rc = vufe_work_add(fe, 0, r->ops, &r->slot, false);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: a request of %u bytes at %llu: %s\n", who, len,
                (unsigned long long)at, strerror(-rc));
        exit(1);
    }
}

bool bench_req_ok(struct bench_req *r, uint32_t used)
{
    struct dev_work_result res;

    r->ops->check(r->w, 0, r->slot.buf, used, &res);
    return !res.failed && res.mismatched == 0;
}

void bench_req_close(struct bench_req *r)
{
    if (r->w) {
        r->ops->close(r->w);
        r->w = NULL;
    }
}

const char *bench_load(void)
{
    static char line[64];
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;

    if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3) {
        snprintf(line, sizeof(line), "unknown");
    } else {
        snprintf(line, sizeof(line), "%.2f %.2f %.2f", a, b, c);
    }
    if (f) {
        fclose(f);
    }
    return line;
}

double bench_cpu_med(const struct bench_fig *f)
{
    double v[BENCH_ROUNDS];

    for (int i = 0; i < BENCH_ROUNDS; i++) {
        v[i] = f[i].fe_cpu_ns + f[i].be_cpu_ns;
    }
    return bench_stat(v, BENCH_ROUNDS).med;
}

int bench_serve_one(struct vu_loop *loop, struct dev *dev, const char *path)
{
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_ON };
    struct vu_backend *be = vu_backend_new(loop, dev, &cfg);
    struct vu_server *srv;

    if (!be || vu_server_listen(loop, be, path, &srv) < 0) {
        vu_backend_free(be);
        return -1;
    }
    vu_server_set_oneshot(srv, true);
    vu_loop_run(loop);
    vu_server_free(srv);
    vu_backend_free(be);
    return 0;
}
