/* SPDX-License-Identifier: MIT */
/* The socket-level tier: real back-end, real front-end, real memfd. */
#include "config.h"

#include "tests/cu_run.h"
#include "tests/integration/itest.h"

static CU_SuiteInfo suites[] = {
    { "backend-inband", itest_init_inband, NULL, NULL, NULL, backend_tests },
    { "backend-eventfd", itest_init_eventfd, NULL, NULL, NULL,
      backend_tests },
    { "badinput", itest_init_inband, NULL, NULL, NULL, badinput_tests },
    { "devices-inband", itest_init_inband, NULL, NULL, NULL, devices_tests },
    { "devices-eventfd", itest_init_eventfd, NULL, NULL, NULL,
      devices_tests },
    { "trace-inband", itest_init_inband, NULL, NULL, NULL, trace_itests },
    { "trace-eventfd", itest_init_eventfd, NULL, NULL, NULL, trace_itests },
    { "timetravel", itest_init_inband, NULL, NULL, NULL, tt_tests },
    { "inflight", itest_init_eventfd, NULL, NULL, NULL, inflight_tests },
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return vusim_cu_main(argc, argv, suites);
}
