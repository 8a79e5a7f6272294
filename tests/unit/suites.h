/* SPDX-License-Identifier: MIT */
/* Each tests/unit/test_<module>.c exports its <module>_tests[] table. */
#ifndef VUSIM_TESTS_UNIT_SUITES_H
#define VUSIM_TESTS_UNIT_SUITES_H

#include <CUnit/CUnit.h>

extern CU_TestInfo time_tests[];
extern CU_TestInfo cal_tests[];
extern CU_TestInfo clock_tests[];
extern CU_TestInfo rng_tests[];
extern CU_TestInfo msg_tests[];
extern CU_TestInfo mem_tests[];
extern CU_TestInfo vq_tests[];
extern CU_TestInfo blk_tests[];
extern CU_TestInfo blk_work_tests[];
extern CU_TestInfo rngdev_tests[];
extern CU_TestInfo loop_tests[];
extern CU_TestInfo vufe_tests[];
extern CU_TestInfo trace_tests[];
extern CU_TestInfo trace_replay_tests[];
extern CU_TestInfo trace_lazy_tests[];
extern CU_TestInfo faults_tests[];
extern CU_TestInfo opts_tests[];

#endif
