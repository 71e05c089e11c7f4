/*
 * The one clock of cgnatd and its tools: CLOCK_MONOTONIC, in milliseconds for lifetimes and
 * timers, in seconds (double) for retransmission timing and benchmarks. Any thread.
 */
#ifndef CGN_CLOCK_H
#define CGN_CLOCK_H

#include <stdint.h>
#include <time.h>

/** @return milliseconds of CLOCK_MONOTONIC: the clock of every lifetime in cgnatd. */
static inline uint64_t
cgn_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/** @return seconds of CLOCK_MONOTONIC, with its nanoseconds. */
static inline double
cgn_clock_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* CGN_CLOCK_H */
