/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "tests/cu_run.h"

static int run_filtered(const char *suite, const char *test)
{
    CU_pSuite s = CU_get_suite(suite);

    if (!s) {
        fprintf(stderr, "no suite named '%s'\n", suite);
        return -1;
    }
    if (!test) {
        return CU_basic_run_suite(s) == CUE_SUCCESS ? 0 : -1;
    }
    CU_pTest t = CU_get_test(s, test);
    if (!t) {
        fprintf(stderr, "no test named '%s' in suite '%s'\n", test, suite);
        return -1;
    }
    return CU_basic_run_test(s, t) == CUE_SUCCESS ? 0 : -1;
}

int vusim_cu_main(int argc, char **argv, CU_SuiteInfo *suites)
{
    int rc;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s [SUITE [TEST]]\n", argv[0]);
        return 0;
    }
    if (CU_initialize_registry() != CUE_SUCCESS ||
        CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_set_error_action(CUEA_IGNORE);
    if (argc > 1) {
        rc = run_filtered(argv[1], argc > 2 ? argv[2] : NULL);
    } else {
        rc = CU_basic_run_tests() == CUE_SUCCESS ? 0 : -1;
    }
    unsigned failed = CU_get_number_of_failures() +
                      CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return (rc != 0 || failed != 0) ? 1 : 0;
}
