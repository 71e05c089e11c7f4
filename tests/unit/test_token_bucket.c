/*
 * common/cgn_token_bucket.h: refill over time, the one-second burst cap, rate 0, a clock that
 * does not move forward, a rate changed between takes, large rates.
 */
#include <criterion/criterion.h>

#include "cgn_token_bucket.h"

#define T0 1000000u /* a CLOCK_MONOTONIC millisecond count, well after boot */

/* Takes until the bucket refuses, at most `max` times: how many went through. */
static unsigned
drain(struct cgn_token_bucket *tb, uint32_t rate, uint64_t now, unsigned max)
{
	unsigned n = 0;
	while (n < max && cgn_tb_take(tb, rate, now))
		n++;
	return n;
}

Test(token_bucket, init_fills_one_second_of_burst)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 5, T0);
	cr_assert_eq(drain(&tb, 5, T0, 100), 5, "a full bucket holds rate tokens");
	cr_assert_not(cgn_tb_take(&tb, 5, T0), "then nothing until time passes");
}

Test(token_bucket, zeroed_bucket_is_full_at_first_take)
{
	struct cgn_token_bucket tb = { 0 };
	cr_assert_eq(drain(&tb, 7, T0, 100), 7);
}

Test(token_bucket, refills_at_rate)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 10, T0); /* 10 a second: one token every 100 ms */
	cr_assert_eq(drain(&tb, 10, T0, 100), 10);
	cr_assert_not(cgn_tb_take(&tb, 10, T0 + 99), "99 ms make 0.99 of a token");
	cr_assert(cgn_tb_take(&tb, 10, T0 + 100), "the refused take kept its 0.99: one more ms makes a token");
	cr_assert_not(cgn_tb_take(&tb, 10, T0 + 100));
	cr_assert_eq(drain(&tb, 10, T0 + 400, 100), 3, "300 ms more: three tokens");
}

Test(token_bucket, fractional_rate_is_exact_over_a_second)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 3, T0);
	cr_assert_eq(drain(&tb, 3, T0, 100), 3);
	unsigned passed = 0;
	for (uint64_t ms = 1; ms <= 1000; ms++) /* one take a millisecond for a second */
		passed += cgn_tb_take(&tb, 3, T0 + ms);
	cr_assert_eq(passed, 3, "3 a second, nothing lost to rounding: %u", passed);
}

Test(token_bucket, burst_is_capped_at_one_second)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 4, T0);
	cr_assert_eq(drain(&tb, 4, T0, 100), 4);
	cr_assert_eq(drain(&tb, 4, T0 + 3600 * 1000, 100), 4, "an hour idle still makes one second's burst");
	cr_assert_eq(drain(&tb, 4, T0 + 3600 * 1000 + 500, 100), 2, "then half a second: two");
}

Test(token_bucket, rate_zero_never_lets_through)
{
	/* dataplane.icmp_errors_per_second = 0: no ICMP errors at all. (pcp.max_requests_per_second
	 * = 0 means no limit: pcp_server.c does not consult the bucket then.) */
	struct cgn_token_bucket tb = { 0 };
	cr_assert_not(cgn_tb_take(&tb, 0, T0));
	cgn_tb_init(&tb, 0, T0);
	cr_assert_not(cgn_tb_take(&tb, 0, T0));
	cr_assert_not(cgn_tb_take(&tb, 0, T0 + 3600 * 1000), "not after an hour either");
}

Test(token_bucket, clock_behind_the_last_take_adds_nothing)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 10, T0 + 500);
	cr_assert_eq(drain(&tb, 10, T0 + 500, 100), 10);
	cr_assert_not(cgn_tb_take(&tb, 10, T0), "an earlier time makes no token");
	cr_assert_not(cgn_tb_take(&tb, 10, T0 + 599), "and does not move the bucket's time back");
	cr_assert(cgn_tb_take(&tb, 10, T0 + 600));
}

Test(token_bucket, lower_rate_cuts_the_level_to_its_burst)
{
	struct cgn_token_bucket tb;
	cgn_tb_init(&tb, 100, T0);
	cr_assert_eq(drain(&tb, 2, T0, 1000), 2, "a reload to 2 a second: a burst of 2, not 100");
	cr_assert_eq(drain(&tb, 100, T0 + 10, 1000), 1, "back to 100: 10 ms make one");
}

Test(token_bucket, largest_configured_rate_does_not_overflow)
{
	const uint32_t rate = 100000000; /* pcp.max_requests_per_second's maximum */
	struct cgn_token_bucket tb = { 0 };
	cr_assert(cgn_tb_take(&tb, rate, UINT64_MAX / 2), "a pause of ages fills it, no overflow");
	cr_assert_eq(tb.level, (uint64_t)rate * CGN_TB_ONE - CGN_TB_ONE);
	cr_assert(cgn_tb_take(&tb, UINT32_MAX, UINT64_MAX / 2 + 1000));
	cr_assert_eq(tb.level, (uint64_t)UINT32_MAX * CGN_TB_ONE - CGN_TB_ONE, "UINT32_MAX a second: a full burst");
}
