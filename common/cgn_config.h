/*
 * cgnatd's configuration: the file format (libconfig), its defaults and its validation.
 * docs/configuration.md documents every key; docs/examples/ holds working files.
 *
 * Loading is pure (no DPDK): the control thread loads at start and on SIGHUP, tests load
 * strings. A loaded struct cgn_config is a plain value, safe to copy and compare.
 */
#ifndef CGN_CONFIG_H
#define CGN_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_mapping.h"

#define CGN_MAX_LISTEN 8
#define CGN_MAX_PREFIXES 64
#define CGN_MAX_POOL_PREFIXES 32
#define CGN_MAX_STATIC 1024
#define CGN_MAX_PORTS 8
#define CGN_MIN_MTU 576             /* ports' mtu: every IPv4 host takes datagrams this big (RFC 791) */
#define CGN_MAX_MTU 9216            /* ... and the largest jumbo frames */
#define CGN_MAX_ANNOUNCE 64
#define CGN_MAX_ROUTES 256          /* routes, the ports' next_hop defaults included */
#define CGN_MAX_STATIC_NEIGHBOURS 256
#define CGN_NAME_LEN 64
#define CGN_STATE_PATH_MAX 1024     /* state.path, resolved, with its NUL */

/* An address and a port: listen addresses, announce targets. */
struct cgn_listen {
	struct cgn_addr addr;
	uint16_t port;
};

/* A static mapping (RFC 6887 §11.3: "created outside of PCP"). */
struct cgn_static {
	uint8_t proto;
	struct cgn_addr internal;
	uint16_t internal_port;
	uint32_t external;      /* IPv4, network order */
	uint16_t external_port;
};

/* A DPDK port and its role. */
enum cgn_port_role { CGN_PORT_INSIDE, CGN_PORT_OUTSIDE };

struct cgn_port_cfg {
	char name[CGN_NAME_LEN];   /* EAL device name: "net_pcap0", "0000:03:00.0" */
	enum cgn_port_role role;
	uint8_t peer_mac[6];       /* destination MAC of frames leaving by it that no route matches */
	bool have_peer_mac;        /* else: the source MAC of the frame being answered */
	uint32_t address;          /* the CGN's own IPv4 address on this link (network order); 0 none */
	struct cgn_addr address6;  /* its own global IPv6 address on this link (ND from the port's
				    * link-local address needs none) */
	bool have_address6;
	uint32_t next_hop;         /* resolved by ARP when there is no peer_mac (network order); 0 none */
	bool pcp_management;       /* outside port: serve PCP from pcp.third_party senders on it */
	uint16_t mtu;              /* largest IPv4 packet it sends (octets); 0 = the device's own */
};

/* A route (RFC 1812 §5.2.4, RFC 4861 §5.2: longest match), in the route table of its port's
 * role and its family: frames the NAT sends toward the inside look up the inside tables,
 * toward the outside the outside ones. Every member is octets: no padding, and reload
 * compares configurations with memcmp. */
struct cgn_route_cfg {
	struct cgn_prefix net; /* host bits zero; IPv4 as mapped, len 96 + n (cgn_prefix) */
	struct cgn_addr via;   /* gateway, of net's family; all zero: directly connected (the
				* destination itself is asked for: ARP, or ND) */
	uint8_t port;          /* index in ports[] */
};
_Static_assert(sizeof(struct cgn_route_cfg) == 34, "struct cgn_route_cfg has no padding (memcmp)");

/** @return true for an IPv4 route (its prefix in ::ffff:0:0/96, including 0.0.0.0/0). */
static inline bool
cgn_route_is_v4(const struct cgn_route_cfg *r)
{
	return r->net.len >= 96 && cgn_addr_is_v4(&r->net.addr);
}

/** @return true for a directly connected route (no gateway). */
static inline bool
cgn_route_is_connected(const struct cgn_route_cfg *r)
{
	static const struct cgn_addr zero;
	return cgn_addr_eq(&r->via, &zero);
}

/* A static neighbour: an address (IPv4 as mapped, or IPv6) whose MAC is configured, never
 * asked for by ARP or ND. */
struct cgn_neighbour_cfg {
	struct cgn_addr addr;
	uint8_t mac[6];
	uint8_t port;   /* index in ports[] */
	uint8_t zero;   /* no padding (memcmp) */
};
_Static_assert(sizeof(struct cgn_neighbour_cfg) == 24, "struct cgn_neighbour_cfg has no padding (memcmp)");

/*
 * nat64: stateful NAT64 (RFC 6146), off while n_prefixes is 0 (the default). Only octets and
 * 4-octet members: no padding, so that reload compares it with memcmp
 * (cgn_config_nat64_differs()).
 */
#define CGN_MAX_NAT64_PREFIXES 8
#define CGN_MAX_PREFIX64_V4 16 /* IPv4 prefixes a Pref64's PREFIX64 option lists (RFC 7225 §4.1) */
struct cgn_nat64_cfg {
	/* Pref64::/n (RFC 6052 §2.2; RFC 6146 §3.5.4 "Pref64::/n"): each passed
	 * cgn_rfc6052_prefix_check(), no two overlap (so cgn_rfc6052_find() names one). IPv6
	 * packets to one of them are translated; IPv6 packets from one are dropped (RFC 6146 §3.5). */
	struct cgn_prefix prefixes[CGN_MAX_NAT64_PREFIXES];
	/* prefixes[i] is the Well-Known Prefix 64:ff9b::/96: RFC 6052 §3.1 then forbids non-global
	 * IPv4 addresses under it, a rule per packet (cgn_rfc6052_v4_is_global()), which no
	 * configuration can check at load: the pool is the NAT's own addresses, never embedded
	 * but in hairpinning, and the destinations are whatever the subscribers send to. */
	bool wkp[CGN_MAX_NAT64_PREFIXES];
	unsigned n_prefixes;
	/* The length of the IPv6 prefix that is one subscriber (32..128; 56 by default): one
	 * external IPv4 address (paired pooling) and one port quota for all its addresses. */
	unsigned subscriber_prefix_len;
	/* RFC 7915 §4.1 "lowest-ipv6-mtu": IPv4 packets without DF that would make longer IPv6
	 * packets are sent in IPv6 fragments no longer than this (1280 .. 9216; 1280). */
	unsigned lowest_ipv6_mtu;
	/* IPv4 prefixes treated as global under the Well-Known Prefix (RFC 6052 §3.1 drops
	 * 64:ff9b:: + a non-global IPv4 address): for labs whose "internet" uses documentation
	 * ranges. Empty by default: the RFC's rule. */
	struct cgn_prefix treat_as_global[CGN_MAX_NAT64_PREFIXES];
	unsigned n_treat_as_global;
	/* RFC 7915 §4.1/§5.1 knobs: 4->6 traffic class 0 instead of the TOS; 6->4 TOS new_tos
	 * instead of the traffic class. */
	uint8_t reset_traffic_class;
	uint8_t reset_tos;
	uint8_t new_tos;
	/* RFC 6146 §3.4: an IPv4 UDP datagram with a zero checksum gets one computed (0), or is
	 * dropped and counted (1). */
	uint8_t udp_zero_checksum_drop;
	/* RFC 7225 §4.2 "a list of destination IPv4 prefixes associated with a Pref64::/n",
	 * for PCP's PREFIX64 only (the data plane translates any destination under any Pref64):
	 * v4_lists[i][0..n_v4[i]) go with prefixes[i], IPv4-mapped (length 96 + n). */
	struct cgn_prefix v4_lists[CGN_MAX_NAT64_PREFIXES][CGN_MAX_PREFIX64_V4];
	uint8_t n_v4[CGN_MAX_NAT64_PREFIXES];
};
_Static_assert(sizeof(struct cgn_nat64_cfg) ==
		       CGN_MAX_NAT64_PREFIXES * (2 * sizeof(struct cgn_prefix) + 1) + 4 * sizeof(unsigned) + 4 +
			       CGN_MAX_NAT64_PREFIXES * (CGN_MAX_PREFIX64_V4 * sizeof(struct cgn_prefix) + 1),
	       "struct cgn_nat64_cfg has no padding (memcmp)");

/* Endpoint filtering of implicit mappings (RFC 4787 §5, RFC 6888 REQ-7). */
enum cgn_filtering { CGN_FILTER_EIF, CGN_FILTER_ADF, CGN_FILTER_APDF };

struct cgn_config {
	/* eal: used when cgnatd is started without EAL arguments */
	struct {
		char file_prefix[CGN_NAME_LEN]; /* also names the telemetry socket's directory */
		char lcores[CGN_NAME_LEN];      /* "-l" list; first = control thread */
		unsigned memory_mb;             /* with no_huge */
		bool no_huge;
	} eal;

	/* pcp: the PCP server (RFC 6887) */
	struct {
		struct cgn_listen listen[CGN_MAX_LISTEN];
		unsigned n_listen;
		struct cgn_prefix inside[CGN_MAX_PREFIXES]; /* §8.2: requests from elsewhere are ignored */
		unsigned n_inside;
		struct cgn_prefix third_party[CGN_MAX_PREFIXES]; /* §13.1: who may send THIRD_PARTY */
		unsigned n_third_party;
		uint32_t min_lifetime;   /* §15: 120 s */
		uint32_t max_lifetime;   /* §15: 24 h */
		uint32_t short_error_lifetime; /* §7.4: 30 s */
		uint32_t long_error_lifetime;  /* §7.4: 30 min */
		unsigned max_mappings_per_subscriber; /* explicit mappings: USER_EX_QUOTA beyond */
		unsigned max_filters;  /* FILTER entries per mapping: EXCESSIVE_REMOTE_PEERS beyond */
		unsigned description_max; /* RFC 7220 §3: octets of a DESCRIPTION stored (128..1016);
					   * a longer one is cut at a character boundary */
		uint32_t port_set_max; /* RFC 7753 PORT_SET: most ports one set is granted (1..nat.block_size);
					* 0 (the default): nat.block_size */
		bool map, peer;        /* opcodes offered; a disabled one answers UNSUPP_OPCODE */
		bool natpmp;           /* answer version-0 requests as NAT-PMP (RFC 6886) */
		uint32_t max_requests_per_second; /* overload: NO_RESOURCES beyond (§8.2); 0 = no limit */
		struct cgn_listen announce[CGN_MAX_ANNOUNCE]; /* §14.1.3 unicast ANNOUNCE targets */
		unsigned n_announce;
		bool announce_multicast; /* §14.1.3: also to 224.0.0.1:5350 */
	} pcp;

	/* nat: external pool */
	struct {
		struct cgn_prefix pool[CGN_MAX_POOL_PREFIXES]; /* IPv4 prefixes */
		unsigned n_pool;
		uint16_t port_min, port_max; /* external ports handed out */
		uint16_t block_size;    /* ports in a port block (RFC 6888 REQ-14) */
		uint16_t max_blocks;    /* blocks a subscriber may hold: its port quota */
		uint32_t max_subscribers;
		bool parity;            /* keep the internal port's parity (RFC 4787 REQ-3) */
		uint32_t port_hold_s;   /* a freed external port is not reused for this long (RFC 6888 REQ-8) */
		struct cgn_static statics[CGN_MAX_STATIC];
		unsigned n_static;
		enum cgn_filtering filtering; /* implicit mappings; PCP MAP ones use their FILTERs */
		uint32_t udp_timeout_s;       /* RFC 4787 REQ-5: >= 120, 300 recommended */
		uint32_t tcp_established_s;   /* RFC 5382 REQ-5: >= 7440 */
		uint32_t tcp_transitory_s;    /* RFC 5382 REQ-5: 240 */
		uint32_t icmp_timeout_s;      /* RFC 5508 REQ-1: >= 60 */
	} nat;

	/* nat64: stateful NAT64 (RFC 6146); off without prefixes */
	struct cgn_nat64_cfg nat64;

	/* ports: DPDK ports and their roles (cgnatd without ports is a PCP server only) */
	struct cgn_port_cfg ports[CGN_MAX_PORTS];
	unsigned n_ports;

	/* routes: the configured ones (IPv4 and IPv6), then each port's next_hop as 0.0.0.0/0 of its role */
	struct cgn_route_cfg routes[CGN_MAX_ROUTES];
	unsigned n_routes;
	struct cgn_neighbour_cfg neighbours[CGN_MAX_STATIC_NEIGHBOURS];
	unsigned n_neighbours;

	/* arp: neighbour resolution, ARP (RFC 826) and ND (RFC 4861) alike (timers after RFC 4861
	 * §7.3's reachability states) */
	struct {
		uint32_t reachable_ms;   /* a neighbour heard from this recently is not asked again */
		uint32_t retry_ms;       /* between requests while unresolved or stale */
		uint32_t probes;         /* unanswered requests after which a stale MAC is forgotten */
		uint32_t max_neighbours; /* learned neighbours (directly connected destinations) held */
	} arp;

	/* dataplane: the shared table and the workers */
	struct {
		uint32_t table_size;   /* mappings the shared table holds (each takes two keys) */
		uint32_t ring_size;    /* control → worker messages in flight */
		uint32_t idle_sleep_us; /* sleep of an idle worker; 0 = busy poll */
		uint32_t mbufs;         /* packet buffers; 0 = sized from ports and workers */
		uint32_t mbuf_size;     /* data room of a buffer; 0 = DPDK's default (2176) */
		uint64_t seed;          /* port choice of implicit sessions and the table's hash; 0 = random (tests fix it) */
		uint32_t icmp_errors_per_second; /* per worker, for generated ICMP errors */
		uint32_t expire_budget; /* mappings a worker's expiry sweep visits a call (once a ms; and at most 8x as many slots) */
		uint32_t rx_delay_ms;   /* workers read no packet this long after start (labs, tests) */
		struct cgn_addr icmp_source; /* source of ICMP errors the NAT itself sends */
		bool have_icmp_source;  /* else: the first pool address */
		struct cgn_addr icmp_source6; /* source of ICMPv6 errors toward the inside (global unicast) */
		bool have_icmp_source6; /* else: the inside port's address6 */
	} dataplane;

	/* state: the store of explicit mappings that outlives a restart (control/state_store.h,
	 * docs/operations.md "State store"); off while path is empty. Restart-only: a reload
	 * that changes any key of it is refused (control/reload.c). */
	struct {
		char path[CGN_STATE_PATH_MAX]; /* its directory: absolute, or made so against the
						* configuration file's own directory */
		bool refuse_corrupt;           /* on_corrupt = "refuse": a store that cannot be read
						* stops cgnatd (else it is moved aside: "reset") */
		uint32_t size_mb;              /* LMDB map size, preallocated; 0: from
						* dataplane.table_size (cgn_config_state_size()) */
		bool sync_commit;              /* sync = "commit": fdatasync every group commit;
						* else "periodic", every sync_interval_ms */
		uint32_t sync_interval_ms;
	} state;
	/* logging: NAT events (common/cgn_event.h) to IPFIX and syslog (RFC 6888 REQ-12: nothing
	 * is sent anywhere unless a destination is configured). Restart-only. */
	struct {
		uint32_t ring_size;      /* events each lcore's ring holds (a power of two) */
		bool sessions;           /* session create/delete events too (volume); off */
		uint8_t threshold_pct;   /* pool blocks in use at which THRESHOLD_REACHED is sent; 0 off */
		struct {
			bool on;                 /* a collector is configured */
			struct cgn_listen collector;
			bool tcp;                /* transport = "tcp" (else "udp") */
			uint32_t observation_domain;
			uint32_t template_refresh_s; /* UDP: templates re-sent this often (RFC 7011 §8.4) */
			uint32_t reconnect_s;        /* TCP: between attempts to reach a lost collector */
		} ipfix;
		struct {
			enum { CGN_SYSLOG_NONE, CGN_SYSLOG_UDP, CGN_SYSLOG_TCP, CGN_SYSLOG_LOCAL } transport;
			struct cgn_listen server;    /* UDP/TCP */
			uint8_t facility;            /* RFC 5424 §6.2.1 facility code (16 = local0) */
			char hostname[CGN_NAME_LEN]; /* HOSTNAME field; empty: gethostname() */
		} syslog;
	} logging;
	/* metrics: the Prometheus page (GET /metrics), off unless listen is set. Restart-only. */
	struct {
		bool on;
		struct cgn_listen listen;
	} metrics;
};

/** Fills cfg with the defaults documented in docs/configuration.md. */
void cgn_config_defaults(struct cgn_config *cfg);

/**
 * Loads a configuration file over the defaults and validates it.
 * @param err receives "FILE:LINE: KEY: what is wrong" on failure.
 * @return 0, -ENOENT if the file cannot be read, -EINVAL if it is invalid.
 */
int cgn_config_load_file(const char *path, struct cgn_config *cfg, char *err, size_t err_len);

/** The same for a configuration held in a string (tests); FILE reads "<string>". */
int cgn_config_load_string(const char *text, struct cgn_config *cfg, char *err, size_t err_len);

/** @return the state store's map size in octets: state.size_mb, or (0) room for
 *  dataplane.table_size mappings at 512 octets each (measured: under 300; docs/operations.md),
 *  at least 16 MiB. */
uint64_t cgn_config_state_size(const struct cgn_config *cfg);

/** @return the number of IPv4 addresses in the pool. */
uint32_t cgn_config_pool_size(const struct cgn_config *cfg);

/** @return true if addr lies in one of the prefixes. */
bool cgn_prefix_list_contains(const struct cgn_prefix *list, unsigned n, const struct cgn_addr *addr);

/** The idle timeout of an implicit mapping of proto in ms (nat.timeouts; RFC 4787 REQ-5,
 *  RFC 5382 REQ-5): TCP's by its state, transitory unless established. */
static inline uint64_t
cgn_idle_timeout_ms(const struct cgn_config *cfg, uint8_t proto, uint8_t tcp_state)
{
	switch (proto) {
	case IPPROTO_TCP:
		return (uint64_t)(tcp_state == CGN_TCP_ESTABLISHED ? cfg->nat.tcp_established_s
								   : cfg->nat.tcp_transitory_s) * 1000;
	case IPPROTO_UDP:
		return (uint64_t)cfg->nat.udp_timeout_s * 1000;
	default:
		return (uint64_t)cfg->nat.icmp_timeout_s * 1000;
	}
}

/** When an implicit mapping expires (ms, CLOCK_MONOTONIC): its last outbound packet and its
 *  idle timeout. The expiry sweep and telemetry ask the same question. Any thread (the
 *  mapping's traffic fields read relaxed: workers write them). */
static inline uint64_t
cgn_idle_expiry_ms(const struct cgn_config *cfg, const struct cgn_mapping *m)
{
	return __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED) +
	       cgn_idle_timeout_ms(cfg, m->proto, __atomic_load_n(&m->tcp_state, __ATOMIC_RELAXED));
}

/** @return true if NAT64 is on: at least one Pref64::/n is configured. Any thread. */
static inline bool
cgn_nat64_enabled(const struct cgn_config *cfg)
{
	return cfg->nat64.n_prefixes > 0;
}

/**
 * The subscriber an IPv6 address belongs to under NAT64: its first
 * cfg->nat64.subscriber_prefix_len bits, the rest zero (a /128 is the address itself).
 * Pure: any thread.
 */
struct cgn_prefix cgn_nat64_subscriber(const struct cgn_config *cfg, const struct cgn_addr *a);

/**
 * @return the address that names the subscriber of internal address a in the port-block
 * allocator: a itself (IPv4), or its nat64.subscriber_prefix_len prefix (IPv6, NAT64). Any
 * thread.
 */
struct cgn_addr cgn_subscriber_addr(const struct cgn_config *cfg, const struct cgn_addr *a);

/**
 * RFC 6052 §3.1: may an IPv4 address (IPv4-mapped form) appear under nat64.prefixes[idx]? Any
 * address under a Network-Specific Prefix; under the Well-Known Prefix a global one
 * (cgn_rfc6052_v4_is_global()) or one of nat64.treat_as_global. Any thread.
 */
bool cgn_nat64_v4_allowed(const struct cgn_config *cfg, unsigned idx, const struct cgn_addr *v4);

/**
 * @return whether a and b differ in any nat64 key. subscriber_prefix_len is not reloadable
 * (sessions were keyed and their subscribers counted under it): control/reload.c refuses
 * that, and switching NAT64 off. The rest is: a reload renumbers the mappings' Pref64
 * indices (cgn_nat64_remap()) and the workers, paused, take the new knobs.
 */
bool cgn_config_nat64_differs(const struct cgn_config *a, const struct cgn_config *b);

/** @return whether a and b differ in nat64.prefixes (their number or any, in order): what the
 * data plane's Pref64 matcher and every NAT64 mapping's Pref64 index depend on. */
bool cgn_config_nat64_prefixes_differ(const struct cgn_config *a, const struct cgn_config *b);

/**
 * For a reload that changes nat64.prefixes: map[i] is the index in to of from's prefixes[i]
 * (the same prefix, the same length), or 0 (the prefix that hosts synthesise with, RFC 7225
 * §4.2) where to no longer has it. Entries from from->n_prefixes on are 0. Pure: any thread.
 */
void cgn_nat64_remap(const struct cgn_nat64_cfg *from, const struct cgn_nat64_cfg *to,
		     uint8_t map[CGN_MAX_NAT64_PREFIXES]);

/*
 * The keys a reload applies to a running data plane (control/reload.c): routes, neighbours,
 * nat.timeouts, nat.port_hold_s, and nat64 (all of it; subscriber_prefix_len and switching
 * NAT64 off are refused before).
 */
/** @return whether a and b differ in them. */
bool cgn_config_live_differs(const struct cgn_config *a, const struct cgn_config *b);
/** Copies them from `from` into `to`. */
void cgn_config_take_live(struct cgn_config *to, const struct cgn_config *from);

#endif /* CGN_CONFIG_H */
