/* SPDX-License-Identifier: MIT */
/* The unit-test binary: one CU_SuiteInfo table, one line per module. */
#include "config.h"

#include "tests/cu_run.h"
#include "tests/unit/suites.h"

static CU_SuiteInfo suites[] = {
    { "time", NULL, NULL, NULL, NULL, time_tests },
    { "cal", NULL, NULL, NULL, NULL, cal_tests },
    { "clock", NULL, NULL, NULL, NULL, clock_tests },
    { "rng", NULL, NULL, NULL, NULL, rng_tests },
    { "msg", NULL, NULL, NULL, NULL, msg_tests },
    { "mem", NULL, NULL, NULL, NULL, mem_tests },
    { "vq", NULL, NULL, NULL, NULL, vq_tests },
    { "blk", NULL, NULL, NULL, NULL, blk_tests },
    { "blk_work", NULL, NULL, NULL, NULL, blk_work_tests },
    { "rngdev", NULL, NULL, NULL, NULL, rngdev_tests },
    { "loop", NULL, NULL, NULL, NULL, loop_tests },
    { "vufe", NULL, NULL, NULL, NULL, vufe_tests },
    { "trace", NULL, NULL, NULL, NULL, trace_tests },
    { "trace_replay", NULL, NULL, NULL, NULL, trace_replay_tests },
    { "trace_lazy", NULL, NULL, NULL, NULL, trace_lazy_tests },
    { "faults", NULL, NULL, NULL, NULL, faults_tests },
    { "opts", NULL, NULL, NULL, NULL, opts_tests },
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return vusim_cu_main(argc, argv, suites);
}
