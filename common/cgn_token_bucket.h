/*
 * A token bucket: at most `rate` events a second, with a burst of one second's worth (`rate`
 * tokens). The one rate limiter of cgnatd: the PCP server's overload limit (RFC 6887 §8.2,
 * pcp.max_requests_per_second, control/pcp_server.c) and the ICMP errors a worker sends
 * (RFC 1812 §4.3.2.8, dataplane.icmp_errors_per_second, dataplane/steps/icmp4.c).
 *
 * Pure: no DPDK, no clock of its own (the caller passes cgn_clock_ms() or a worker's now_ms),
 * integer arithmetic only: the level is kept in thousandths of a token, so that a millisecond
 * at `rate` tokens a second adds exactly `rate` thousandths and nothing is lost to rounding.
 *
 * The rate is an argument of every take, not part of the bucket, so a reload that changes it
 * takes effect at the next event (a level above the new burst is cut down to it).
 *
 * Rate 0 lets nothing through: the bucket never fills. That is what
 * dataplane.icmp_errors_per_second = 0 means (no ICMP errors at all). A setting whose 0 means
 * "no limit" (pcp.max_requests_per_second) is tested by its caller before the bucket.
 *
 * Thread rule: a bucket has one owner, the one thread that calls cgn_tb_init() and
 * cgn_tb_take() on it (the control thread, or one worker for its own bucket); nothing here is
 * atomic. Others must not read it either.
 */
#ifndef CGN_TOKEN_BUCKET_H
#define CGN_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Thousandths of a token in one token. */
#define CGN_TB_ONE 1000u
/* The burst, in milliseconds of refill: one second. */
#define CGN_TB_BURST_MS 1000u

/*
 * A bucket. A zeroed one is valid and full at its first take (at a now_ms of at least
 * CGN_TB_BURST_MS, which CLOCK_MONOTONIC milliseconds always are after boot).
 */
struct cgn_token_bucket {
	uint64_t level;   /* thousandths of a token, 0 .. rate * CGN_TB_ONE */
	uint64_t last_ms; /* when level was last brought up to date */
};

/**
 * Fills the bucket: `rate` tokens (one second's burst), as of now_ms.
 * @param tb     the bucket (caller-owned)
 * @param rate   tokens a second; 0: the bucket is empty
 * @param now_ms the caller's clock, milliseconds (cgn_clock_ms())
 * Owner thread only (see the file's thread rule). Cannot fail.
 */
static inline void
cgn_tb_init(struct cgn_token_bucket *tb, uint32_t rate, uint64_t now_ms)
{
	tb->level = (uint64_t)rate * CGN_TB_ONE;
	tb->last_ms = now_ms;
}

/**
 * Refills the bucket at `rate` tokens a second for the time since its last take (up to one
 * second's burst of `rate` tokens), then takes one token if there is one.
 * @param tb     the bucket (caller-owned)
 * @param rate   tokens a second, as configured now; 0: never a token
 * @param now_ms the caller's clock, milliseconds; a time before the last take adds nothing
 * @return true if a token was taken (the event may go ahead), false if the bucket is short of
 *         one (the caller drops or refuses it, and counts that).
 * Owner thread only (see the file's thread rule).
 */
static inline bool
cgn_tb_take(struct cgn_token_bucket *tb, uint32_t rate, uint64_t now_ms)
{
	uint64_t burst = (uint64_t)rate * CGN_TB_ONE;
	uint64_t dt = now_ms > tb->last_ms ? now_ms - tb->last_ms : 0;
	if (dt > CGN_TB_BURST_MS)
		dt = CGN_TB_BURST_MS; /* a longer pause fills it all the same; bounds dt * rate */
	if (now_ms > tb->last_ms)
		tb->last_ms = now_ms;
	tb->level += dt * rate; /* rate tokens a second = rate thousandths a millisecond */
	if (tb->level > burst)
		tb->level = burst;
	if (tb->level < CGN_TB_ONE)
		return false;
	tb->level -= CGN_TB_ONE;
	return true;
}

#endif /* CGN_TOKEN_BUCKET_H */
