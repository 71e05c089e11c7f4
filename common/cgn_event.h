/*
 * NAT events (RFC 8158 §4.3): what the data plane and the control plane report for logging,
 * as one fixed 64-octet record, the unit of the per-lcore event rings (dataplane/cgn_events.h)
 * and of the logger's sinks (control/log_sink.h: IPFIX, syslog).
 *
 * Which event says what (docs/operations.md, "NAT logging"):
 *   - CGN_NATEV_PORT_BLOCK_ALLOC / _FREE (RFC 8158 §4.6.10): a subscriber (internal) claimed
 *     or gave back the ports [port_first, port_last] of ext_addr. One record per block: the
 *     log an ISP keeps (RFC 6888 REQ-14).
 *   - CGN_NATEV_BINDING_CREATE / _DELETE (§4.6.9): a subscriber got its paired external
 *     address with its first block / lost it with its last.
 *   - CGN_NATEV_NAT44_SESSION_* / NAT64_SESSION_* (§4.6.1, §4.6.2): an implicit mapping
 *     (internal, int_port) <-> (ext_addr, ext_port) made by traffic or expired. cgnatd's
 *     implicit mappings are endpoint-independent (RFC 4787 REQ-1) and destinations are not
 *     logged (RFC 6888 REQ-12, RFC 8158 §4.1), so these carry the mandatory fields only, and
 *     no BIB event is sent for them (§4.6.1: "SHOULD NOT send both"). Only with
 *     logging.sessions (volume).
 *   - CGN_NATEV_NAT44_BIB_* / NAT64_BIB_* (§4.6.3, §4.6.4): an explicit mapping (PCP MAP,
 *     NAT-PMP, a PCP PEER's mapping; origin says which) created or deleted (expired, deleted
 *     by its client, moved by a pool change: delete then create). lifetime_s is the lifetime
 *     granted (create).
 *   - CGN_NATEV_QUOTA_EXCEEDED (§4.6.7) with sub_event = CGN_QUOTA_*, value = the limit.
 *   - CGN_NATEV_ADDRESSES_EXHAUSTED (§4.6.5), CGN_NATEV_PORTS_EXHAUSTED (§4.6.6: ext_addr,
 *     proto): rate-limited at the source (one per second per kind and lcore), as §4.6.5/6 ask.
 *   - CGN_NATEV_THRESHOLD_REACHED (§4.6.8) with sub_event = CGN_THRESHOLD_*, value = the
 *     configured percentage.
 *
 * Pure data, no DPDK: any thread builds one; the logger thread reads them and trusts nothing
 * of them (cgn_event_check()).
 */
#ifndef CGN_EVENT_H
#define CGN_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cgn_addr.h"

/* natEvent (IPFIX IE 230), RFC 8158 Table 2. 1 and 2 are Historic: never sent. */
enum cgn_nat_event {
	CGN_NATEV_ADDRESSES_EXHAUSTED = 3,
	CGN_NATEV_NAT44_SESSION_CREATE = 4,
	CGN_NATEV_NAT44_SESSION_DELETE = 5,
	CGN_NATEV_NAT64_SESSION_CREATE = 6,
	CGN_NATEV_NAT64_SESSION_DELETE = 7,
	CGN_NATEV_NAT44_BIB_CREATE = 8,
	CGN_NATEV_NAT44_BIB_DELETE = 9,
	CGN_NATEV_NAT64_BIB_CREATE = 10,
	CGN_NATEV_NAT64_BIB_DELETE = 11,
	CGN_NATEV_PORTS_EXHAUSTED = 12,
	CGN_NATEV_QUOTA_EXCEEDED = 13,
	CGN_NATEV_BINDING_CREATE = 14,
	CGN_NATEV_BINDING_DELETE = 15,
	CGN_NATEV_PORT_BLOCK_ALLOC = 16,
	CGN_NATEV_PORT_BLOCK_FREE = 17,
	CGN_NATEV_THRESHOLD_REACHED = 18,
	CGN_NATEV_MAX = 18,
};

/* natQuotaExceededEvent (IE 466), RFC 8158 Table 3. */
enum cgn_quota_event {
	CGN_QUOTA_SESSIONS = 1,    /* maxSessionEntries: the shared table is full */
	CGN_QUOTA_BIB = 2,         /* maxBIBEntries (not raised: one table holds both) */
	CGN_QUOTA_PER_USER = 3,    /* maxEntriesPerUser: a subscriber's ports or PCP mappings */
	CGN_QUOTA_SUBSCRIBERS = 4, /* maxSubscribers: nat.max_subscribers */
	CGN_QUOTA_FRAGMENTS = 5,   /* maxFragmentsPendingReassembly */
	CGN_QUOTA_MAX = 5,
};

/* natThresholdEvent (IE 467), RFC 8158 Table 4. */
enum cgn_threshold_event {
	CGN_THRESHOLD_POOL_HIGH = 1,         /* addressPoolHighThreshold: pool addresses with a subscriber */
	CGN_THRESHOLD_POOL_LOW = 2,          /* addressPoolLowThreshold */
	CGN_THRESHOLD_PORTS_HIGH = 3,        /* addressPortMappingHighThreshold: pool blocks in use */
	CGN_THRESHOLD_PER_USER_HIGH = 4,     /* addressPortMappingPerUserHighThreshold */
	CGN_THRESHOLD_GLOBAL_HIGH = 5,       /* globalAddressMappingHighThreshold */
	CGN_THRESHOLD_MAX = 5,
};

/* Who made an explicit mapping (BIB events): for syslog's text and the IPFIX record's
 * absence of it. */
enum cgn_event_origin {
	CGN_ORIGIN_DATA = 0,   /* the data plane: traffic, expiry */
	CGN_ORIGIN_PCP = 1,    /* a PCP MAP (or a PEER's mapping) */
	CGN_ORIGIN_NATPMP = 2, /* NAT-PMP (RFC 6886) */
	CGN_ORIGIN_POOL = 3,   /* a pool change moved it (reload, restore) */
	CGN_ORIGIN_MAX = 3,
};

/* One event: 64 octets, no pointer, nothing variable. Fields an event does not use are 0. */
struct cgn_event {
	uint64_t mono_ms;          /* when, CLOCK_MONOTONIC ms (cgn_clock_ms(); a worker's now_ms):
				    * the logger converts to wall-clock time */
	uint8_t nat_event;         /* enum cgn_nat_event */
	uint8_t proto;             /* IP protocol of the ports (6, 17, 1 for ICMP identifiers); 0 none */
	uint8_t origin;            /* enum cgn_event_origin */
	uint8_t lcore;             /* the lcore that reported it (its ring) */
	uint32_t sub_event;        /* natQuotaExceededEvent / natThresholdEvent; else 0 */
	uint32_t value;            /* the limit (quota) or percentage (threshold); else 0 */
	uint32_t ext_addr;         /* postNATSourceIPv4Address, network order; 0 none */
	uint16_t int_port;         /* sourceTransportPort (sessions, BIB) */
	uint16_t ext_port;         /* postNAPTSourceTransportPort */
	uint16_t port_first;       /* portRangeStart (blocks) */
	uint16_t port_last;        /* portRangeEnd */
	struct cgn_addr internal;  /* sourceIPv4Address (IPv4-mapped) or sourceIPv6Address; for
				    * blocks and bindings the subscriber (NAT64: its prefix) */
	uint32_t lifetime_s;       /* BIB create of an explicit mapping: its lifetime */
	uint32_t reserved[3];
};
_Static_assert(sizeof(struct cgn_event) == 64, "struct cgn_event is one cache line");

/** @return true for the NAT64 flavour of an event (its internal address is IPv6). */
static inline bool
cgn_event_is_v6(const struct cgn_event *ev)
{
	return !cgn_addr_is_v4(&ev->internal);
}

/**
 * Checks an event read from a ring before any sink uses it: nat_event known, sub_event within
 * its table, origin known, port_first <= port_last. The logger drops (and counts) others.
 * @return true if it may be logged.
 */
static inline bool
cgn_event_check(const struct cgn_event *ev)
{
	if (ev->nat_event < CGN_NATEV_ADDRESSES_EXHAUSTED || ev->nat_event > CGN_NATEV_MAX)
		return false;
	if (ev->origin > CGN_ORIGIN_MAX || ev->port_first > ev->port_last)
		return false;
	if (ev->nat_event == CGN_NATEV_QUOTA_EXCEEDED)
		return ev->sub_event >= 1 && ev->sub_event <= CGN_QUOTA_MAX;
	if (ev->nat_event == CGN_NATEV_THRESHOLD_REACHED)
		return ev->sub_event >= 1 && ev->sub_event <= CGN_THRESHOLD_MAX;
	return ev->sub_event == 0;
}

#endif /* CGN_EVENT_H */
