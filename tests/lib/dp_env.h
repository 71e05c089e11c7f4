/*
 * A data plane to test steps on, without launching workers: EAL with two net_null ports
 * (inside, outside), the shared table, the subscriber/port-block allocator, and worker 0's
 * state driven from the calling thread (registered and online as its RCU reader).
 * Used by tests/dataplane/ and tests/fuzz/fuzz_nat44.c. One per process.
 */
#ifndef TEST_DP_ENV_H
#define TEST_DP_ENV_H

#include <stdint.h>

#include "cgn_dataplane.h"

struct dp_env {
	struct cgn_config cfg;
	struct cgn_pb pb;
	void *pb_mem;
	struct cgn_dataplane *dp;
	struct cgn_worker *w;
	uint16_t inside_port, outside_port;
};

/** Sets the environment up once per process (EAL can start once). @return it, or NULL. */
struct dp_env *dp_env_get(void);

/**
 * Hands n mbufs received on in_port to the data plane's burst driver as worker 0, the
 * caller's thread (the one place tests and the fuzz target name the driver's entry point).
 * The driver owns the mbufs from here on; what it sends waits in worker 0's TX buffers.
 */
void dp_env_burst(uint16_t in_port, struct rte_mbuf **pkts, uint16_t n);

/** A frame in an mbuf of the environment's pool. */
struct rte_mbuf *dp_env_mbuf(const void *frame, uint16_t len);

/**
 * Runs one frame through the burst driver as worker 0, from in_port.
 * @return a copy of the frame it sent (valid until the next call) with its port and length
 *         (either pointer may be NULL), or NULL if it sent none.
 */
uint8_t *dp_env_run(uint16_t in_port, const void *frame, uint16_t len, uint16_t *out_port, uint16_t *out_len);

/** @return the shared table's mapping of an internal endpoint (text address), or NULL. */
struct cgn_mapping *dp_env_mapping(const char *internal, uint16_t port, uint8_t proto);

/** An IPv4 address in network order. */
uint32_t dp_ipv4(const char *text);

/* Frame builders: Ethernet + IPv4 (valid header checksum) + transport (valid checksum).
 * Addresses as text, ports host order. @return the frame length written to buf. */
uint16_t build_udp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		   const void *payload, uint16_t plen, uint8_t ttl, bool zero_cksum);
uint16_t build_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t flags);
uint16_t build_icmp_echo(uint8_t *buf, const char *src, const char *dst, uint8_t type, uint16_t id);
/* An ICMP error from src to dst quoting the IPv4 packet at quoted (its header + 8 octets). */
uint16_t build_icmp_error(uint8_t *buf, const char *src, const char *dst, uint8_t type, uint8_t code,
			  const uint8_t *quoted_ip);

/* An ARP frame (60 octets, RFC 826): op 1 request (to broadcast, target MAC zero) or 2 reply
 * (to dst). Addresses as text. @return its length. */
uint16_t build_arp(uint8_t *buf, uint16_t op, const struct rte_ether_addr *src, const struct rte_ether_addr *dst,
		   const char *sender_ip, const char *target_ip);

/** @return true if the IPv4 header checksum and the transport checksum of the frame verify. */
bool frame_cksums_ok(const uint8_t *frame, uint16_t len);

#endif
