/* SPDX-License-Identifier: MIT */
/*
 * tests/cu_run.h - the CUnit runner every test binary shares
 *
 * A test binary holds one CU_SuiteInfo table and calls vusim_cu_main().
 * Usage: BINARY [SUITE [TEST]] runs everything, one suite, or one test.
 * The exit status is non-zero if any assertion or test failed, or if the
 * filter named nothing. CUnit's basic summary is printed, so the CI sees
 * the counts.
 */
#ifndef VUSIM_TESTS_CU_RUN_H
#define VUSIM_TESTS_CU_RUN_H

#include <CUnit/CUnit.h>

int vusim_cu_main(int argc, char **argv, CU_SuiteInfo *suites);

/* Assert with a case name as the message, for table-driven tests. */
#define VU_ASSERT_MSG(cond, name)                                            \
    CU_assertImplementation((cond), __LINE__, (name), __FILE__, "", CU_FALSE)

#endif
