/*
 * What the step tests of tests/dataplane/ (test_classify.c, test_translate.c, test_session.c,
 * test_expire.c, test_mtu.c) share, defined once in steps_fixture.c: the test data plane
 * (tests/lib/dp_env.h) fetched by each suite's .init, a frame buffer to build packets in, the
 * frame run through the burst driver, drop counters, and reading/patching frames. Packets
 * are read back from worker 0's TX buffer before it is flushed to the net_null port.
 * Everything runs on the test's own thread, as worker 0 (one test per process: Criterion).
 * The files include this header instead of dp_test.h.
 */
#ifndef TEST_STEPS_FIXTURE_H
#define TEST_STEPS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "cgn_drop.h"
#include "dp_env.h"

/** The test data plane, set by setup(). */
extern struct dp_env *E;

/** The frame the tests build their packets in (the frame run() sends). */
extern uint8_t frame[2048];

/** The suites' .init: the environment, set up once per process (asserts it started). */
void setup(void);

/**
 * Runs the first len octets of frame through the burst driver from in_port.
 * @return a copy of the frame it sent (valid until the next call) with its port and length
 *         (either pointer may be NULL), or NULL if it sent none.
 */
uint8_t *run(uint16_t in_port, uint16_t len, uint16_t *out_port, uint16_t *out_len);

/** @return worker 0's drop counter for reason r. */
uint64_t drops(enum cgn_drop_reason r);

/** @return an IPv4 address (text) in network order. */
uint32_t addr(const char *a);

/** @return the 16-bit field off octets into the transport header of an Ethernet + IPv4
 *  (20-octet header) frame f, host order: off 0 the source port, 2 the destination port. */
uint16_t port_at(const uint8_t *f, int off);

/** The IPv4 header of frame f (ihl octets at 14) changed: its checksum again. */
void ip_header_changed(uint8_t *f, unsigned ihl);

/**
 * Turns NAT64 on in this test's copy of the configuration (Criterion runs each test in a
 * process of its own): the Well-Known Prefix and 2001:db9:100::/40, the lab's documentation
 * ranges 198.51.100.0/24 and 203.0.113.0/24 treated as global, IPv6 subscribers in
 * 2001:db8::/32; the data plane's Pref64 matcher follows (cgn_dataplane_set_nat64).
 */
void nat64_on(void);

#endif /* TEST_STEPS_FIXTURE_H */
