/*
 * What every Criterion file of tests/dataplane/ starts with: the test data plane
 * (dp_env.h), fetched by each suite's init, and a frame buffer to build packets in.
 * Included once per test file (its definitions are the file's own).
 */
#ifndef TEST_DP_TEST_H
#define TEST_DP_TEST_H

#include <criterion/criterion.h>

#include "dp_env.h"

static struct dp_env *E;
static uint8_t frame[2048] __attribute__((unused));

/* The suites' .init: the environment, set up once per process. */
static void
setup(void)
{
	E = dp_env_get();
	cr_assert_not_null(E, "the test data plane did not start");
}

#endif /* TEST_DP_TEST_H */
