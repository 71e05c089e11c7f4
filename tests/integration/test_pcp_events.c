/*
 * NAT logging of explicit mappings (issue 16; control/pcp_server_int.h, "NAT logging of
 * explicit mappings"), in process (suite 'integration'; EAL without hugepages, one lcore: the
 * test thread is the main lcore, whose event ring the server writes; pushes to the data
 * plane by a stub that can play a full ring). Real PCP and NAT-PMP requests through
 * pcp_server_handle; the main lcore's ring read directly (no logger thread):
 * MAP create -> one NAT44_BIB_CREATE with every field, renew -> none, delete and expiry ->
 * NAT44_BIB_DELETE; NAT-PMP alike (origin natpmp); an IPv6 MAP -> NAT64_BIB_CREATE; a port
 * set -> one per port; a PEER's mapping; USER_EX_QUOTA -> QUOTA_EXCEEDED PER_USER (once a
 * second); a create the ring refuses -> nothing; a pool change and a restore that move a
 * mapping -> DELETE of the old endpoint, CREATE of the new (origin pool).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "cgn_events.h"
#include "eal_once.h"
#include "pcp_server_int.h"

static bool ring_full; /* the stub refuses every push, as a full worker ring does */

static int
push(void *ctx, struct cgn_ring_msg *msg)
{
	(void)ctx;
	(void)msg;
	return ring_full ? -ENOBUFS : 0;
}

static char dir[64];

static void
setup(void)
{
	cr_assert_eq(test_eal_once("cgnpe", 512), 0);
	snprintf(dir, sizeof(dir), "/tmp/cgnpe-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	ring_full = false;
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(pcp_events, .init = setup, .fini = teardown, .timeout = 60);

#define POOL_A "203.0.113.0/28"
#define POOL_B "198.51.100.0/28"

/* A configuration with logging to a destination (so cgn_events_init() makes the rings):
 * extra goes into the pcp group, pool is nat.pool, store keeps a state store in dir. */
static void
make_cfg(struct cgn_config *cfg, const char *extra, const char *pool, bool store)
{
	char text[2048], err[256], state[160] = "";
	if (store)
		snprintf(state, sizeof(state), "state = { path = \"%s/state\"; size_mb = 1; };\n", dir);
	snprintf(text, sizeof(text),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\", \"2001:db8:1::/48\" ];\n"
		 "  announce = { multicast = false; }; lifetime = { min = 1; }; %s };\n"
		 "nat = { pool = [ \"%s\" ]; port_hold_s = 0; };\n"
		 "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; };\n"
		 "dataplane = { table_size = 65536; };\n%s",
		 extra, pool, state);
	cr_assert_eq(cgn_config_load_string(text, cfg, err, sizeof(err)), 0, "%s", err);
	cfg->logging.syslog.transport = CGN_SYSLOG_LOCAL;
	cfg->logging.ring_size = 1024;
}

static struct cgn_config cfg;

static struct pcp_server *
server_with(const char *extra, const char *pool, bool store)
{
	make_cfg(&cfg, extra, pool, store);
	if (!cgn_events_on())
		cr_assert_eq(cgn_events_init(&cfg), 0);
	cr_assert(cgn_events_on());
	struct pcp_server_ops ops = { .push = push };
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
	cr_assert_not_null(srv);
	cr_assert_eq(pcp_server_start(srv, cgn_clock_ms()), 0);
	return srv;
}

static struct pcp_server *
server(const char *extra)
{
	return server_with(extra, POOL_A, false);
}

/* Takes what the main lcore's ring holds (at most max). */
static unsigned
drain(struct cgn_event *ev, unsigned max)
{
	struct rte_ring *r = cgn_events_active->lcore[rte_lcore_id()].ring;
	cr_assert_not_null(r);
	cgn_events_flush(); /* what the control thread gathered, as at the end of its loop */
	return rte_ring_sc_dequeue_burst_elem(r, ev, sizeof(*ev), max, NULL);
}

static struct cgn_addr
addr(const char *text)
{
	struct cgn_addr a;
	cr_assert_eq(cgn_addr_parse(text, &a), 0, "%s", text);
	return a;
}

/* A MAP (remote_port 0) or PEER request from client for UDP internal port: nonce tag,
 * PORT_SET size (0: none). @return the result; *resp parsed. */
static uint8_t
request(struct pcp_server *srv, const struct cgn_addr *client, uint16_t port, uint32_t lifetime, uint8_t nonce,
	uint16_t set_size, uint16_t remote_port, struct pcp_response *resp)
{
	static struct pcp_request req;
	uint8_t msg[PCP_MAX_MSG], out[PCP_MAX_MSG], ps[PCP_PORT_SET_LEN];
	memset(&req, 0, offsetof(struct pcp_request, options));
	req.n_options = 0;
	req.version = PCP_VERSION;
	req.opcode = remote_port ? PCP_OP_PEER : PCP_OP_MAP;
	req.lifetime = lifetime;
	req.client_addr = *client;
	struct pcp_map_data *m = remote_port ? &req.u.peer.map : &req.u.map;
	m->nonce[0] = nonce;
	m->protocol = 17;
	m->internal_port = port;
	m->external_addr = cgn_addr_from_v4(0);
	if (remote_port) {
		req.u.peer.remote_port = remote_port;
		req.u.peer.remote_addr = cgn_addr_from_v4(htonl(0xc6336401)); /* 198.51.100.1 */
	}
	if (set_size) {
		struct pcp_port_set p = { .size = set_size, .first_internal_port = port };
		pcp_port_set_encode(&p, ps);
		pcp_request_add_option(&req, PCP_OPT_PORT_SET, ps, sizeof(ps));
	}
	ssize_t n = pcp_build_request(&req, msg, sizeof(msg));
	cr_assert_gt(n, 0);
	size_t rl = pcp_server_handle(srv, cgn_clock_ms(), msg, (size_t)n, client, 5350, out);
	pcp_server_flush(srv);
	cr_assert_geq(rl, 24);
	cr_assert_eq(pcp_parse_response(out, rl, resp), PCP_VERDICT_OK);
	return resp->result;
}

/* A NAT-PMP map UDP request (RFC 6886 §3.3). @return the result; *ext_port, *lifetime. */
static uint16_t
natpmp(struct pcp_server *srv, const struct cgn_addr *client, uint16_t port, uint32_t lifetime, uint16_t *ext_port,
       uint32_t *granted)
{
	uint8_t msg[12] = { 0, 1, 0, 0, (uint8_t)(port >> 8), (uint8_t)port, 0, 0, (uint8_t)(lifetime >> 24),
			    (uint8_t)(lifetime >> 16), (uint8_t)(lifetime >> 8), (uint8_t)lifetime };
	uint8_t out[PCP_MAX_MSG];
	size_t rl = pcp_server_handle(srv, cgn_clock_ms(), msg, sizeof(msg), client, 5350, out);
	pcp_server_flush(srv);
	cr_assert_eq(rl, 16);
	*ext_port = (uint16_t)(out[10] << 8 | out[11]);
	*granted = (uint32_t)out[12] << 24 | (uint32_t)out[13] << 16 | (uint32_t)out[14] << 8 | out[15];
	return (uint16_t)(out[2] << 8 | out[3]);
}

/* Checks one BIB event against what the client was told. */
static void
check_bib(const struct cgn_event *ev, uint8_t kind, uint8_t origin, const struct cgn_addr *internal, uint16_t int_port,
	  uint32_t ext_addr, uint16_t ext_port, uint32_t lifetime)
{
	cr_assert(cgn_event_check(ev), "the logger takes it");
	cr_assert_eq(ev->nat_event, kind);
	cr_assert_eq(ev->origin, origin);
	cr_assert_eq(ev->proto, 17);
	cr_assert(cgn_addr_eq(&ev->internal, internal));
	cr_assert_eq(ev->int_port, int_port);
	cr_assert_eq(ev->ext_addr, ext_addr);
	cr_assert_eq(ev->ext_port, ext_port);
	cr_assert_eq(ev->lifetime_s, lifetime);
	cr_assert_eq(ev->sub_event, 0);
	cr_assert_eq(ev->value, 0);
	cr_assert_eq(ev->port_first, 0);
	cr_assert_eq(ev->port_last, 0);
}

/* Runs the expiry sweep at now until the ring holds an event (bounded). */
static unsigned
sweep_until_event(struct pcp_server *srv, uint64_t now, struct cgn_event *ev, unsigned max)
{
	unsigned n = 0;
	for (int i = 0; i < 200 && n == 0; i++) {
		mapping_expire(srv, now);
		n = drain(ev, max);
	}
	return n;
}

Test(pcp_events, map_create_renew_delete_and_expiry)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("127.0.0.9");
	struct pcp_response r;
	struct cgn_event ev[16];

	uint64_t t0 = cgn_clock_ms();
	cr_assert_eq(request(srv, &c, 5000, 600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	uint64_t t1 = cgn_clock_ms();
	uint32_t ext = cgn_addr_v4(&r.u.map.external_addr);
	uint16_t ext_port = r.u.map.external_port;
	cr_assert_eq(drain(ev, 16), 1, "one event for one mapping");
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_PCP, &c, 5000, ext, ext_port, r.lifetime);
	cr_assert_eq(ev[0].lifetime_s, 600);
	cr_assert(ev[0].mono_ms >= t0 && ev[0].mono_ms <= t1, "stamped when it was made");

	cr_assert_eq(request(srv, &c, 5000, 900, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 0, "a renewal is not an event");

	cr_assert_eq(request(srv, &c, 5000, 0, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_PCP, &c, 5000, ext, ext_port, 0);
	cr_assert_eq(request(srv, &c, 5000, 0, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 0, "deleting nothing reports nothing");

	/* expiry: the sweep at a time past its lifetime */
	cr_assert_eq(request(srv, &c, 5001, 2, 2, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	cr_assert_eq(ev[0].lifetime_s, 2);
	ext_port = r.u.map.external_port;
	uint64_t later = cgn_clock_ms() + 5000;
	cr_assert_eq(sweep_until_event(srv, later, ev, 16), 1);
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_PCP, &c, 5001, ext, ext_port, 0);
	cr_assert_eq(ev[0].mono_ms, later);
	cr_assert_eq(pcp_server_mapping_count(srv), 0);
	pcp_server_free(srv);
}

Test(pcp_events, natpmp_create_and_delete)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("127.0.0.10");
	struct cgn_event ev[16];
	uint16_t ext_port;
	uint32_t granted;
	cr_assert_eq(natpmp(srv, &c, 6000, 3600, &ext_port, &granted), 0);
	cr_assert_eq(drain(ev, 16), 1);
	int32_t sub = mapping_subscriber(srv, &c, false);
	cr_assert_geq(sub, 0);
	uint32_t ext = srv->pb.addrs[cgn_pb_sub(&srv->pb, (uint32_t)sub)->ext_index];
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_NATPMP, &c, 6000, ext, ext_port, granted);
	cr_assert_eq(natpmp(srv, &c, 6000, 3600, &ext_port, &granted), 0);
	cr_assert_eq(drain(ev, 16), 0, "a renewal is not an event");
	cr_assert_eq(natpmp(srv, &c, 6000, 0, &ext_port, &granted), 0);
	cr_assert_eq(drain(ev, 16), 1);
	cr_assert_eq(ev[0].nat_event, CGN_NATEV_NAT44_BIB_DELETE);
	cr_assert_eq(ev[0].origin, CGN_ORIGIN_NATPMP);
	cr_assert_eq(ev[0].int_port, 6000);
	cr_assert_eq(ev[0].ext_addr, ext);
	pcp_server_free(srv);
}

Test(pcp_events, an_ipv6_map_is_a_nat64_bib_entry)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("2001:db8:1::5");
	struct pcp_response r;
	struct cgn_event ev[16];
	cr_assert_eq(request(srv, &c, 443, 3600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	check_bib(&ev[0], CGN_NATEV_NAT64_BIB_CREATE, CGN_ORIGIN_PCP, &c, 443, cgn_addr_v4(&r.u.map.external_addr),
		  r.u.map.external_port, 3600);
	cr_assert(cgn_event_is_v6(&ev[0]));
	cr_assert_eq(request(srv, &c, 443, 0, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	cr_assert_eq(ev[0].nat_event, CGN_NATEV_NAT64_BIB_DELETE);
	pcp_server_free(srv);
}

Test(pcp_events, a_port_set_is_one_event_per_port_and_a_peer_mapping_is_one)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("127.0.0.11");
	struct pcp_response r;
	struct cgn_event ev[16];
	cr_assert_eq(request(srv, &c, 7000, 600, 3, 4, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 4);
	for (unsigned i = 0; i < 4; i++)
		check_bib(&ev[i], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_PCP, &c, (uint16_t)(7000 + i),
			  cgn_addr_v4(&r.u.map.external_addr), (uint16_t)(r.u.map.external_port + i), 600);
	cr_assert_eq(request(srv, &c, 7000, 0, 3, 4, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 4, "the set goes as one: every port's end");
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(ev[i].nat_event, CGN_NATEV_NAT44_BIB_DELETE);

	/* A PEER with no mapping yet makes one (RFC 6887 §12.3): a BIB entry of PCP's */
	cr_assert_eq(request(srv, &c, 7100, 600, 4, 0, 80, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_PCP, &c, 7100, cgn_addr_v4(&r.u.peer.map.external_addr),
		  r.u.peer.map.external_port, r.lifetime);
	cr_assert_eq(request(srv, &c, 7100, 600, 4, 0, 80, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 0, "a PEER renewal is not an event");
	/* a MAP on it makes it explicit: the same entry, no new event */
	cr_assert_eq(request(srv, &c, 7100, 600, 5, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 0);
	pcp_server_free(srv);
}

Test(pcp_events, a_quota_refusal_is_quota_exceeded_per_user_once_a_second)
{
	struct pcp_server *srv = server("max_mappings_per_subscriber = 2;");
	struct cgn_addr c = addr("127.0.0.12");
	struct pcp_response r;
	struct cgn_event ev[16];
	cr_assert_eq(request(srv, &c, 1, 600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(request(srv, &c, 2, 600, 2, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 2);
	cr_assert_eq(request(srv, &c, 3, 600, 3, 0, 0, &r), PCP_RES_USER_EX_QUOTA);
	cr_assert_eq(drain(ev, 16), 1, "the refusal, and no mapping");
	cr_assert(cgn_event_check(&ev[0]));
	cr_assert_eq(ev[0].nat_event, CGN_NATEV_QUOTA_EXCEEDED);
	cr_assert_eq(ev[0].sub_event, CGN_QUOTA_PER_USER);
	cr_assert_eq(ev[0].value, 2, "the limit");
	cr_assert(cgn_addr_eq(&ev[0].internal, &c), "the subscriber");
	cr_assert_eq(ev[0].ext_addr, 0);
	uint64_t limited = cgn_events_limited();
	cr_assert_eq(request(srv, &c, 4, 600, 4, 0, 0, &r), PCP_RES_USER_EX_QUOTA);
	uint16_t ext_port;
	uint32_t granted;
	cr_assert_eq(natpmp(srv, &c, 5, 600, &ext_port, &granted), 4, "NAT-PMP: NO_RESOURCES");
	cr_assert_eq(drain(ev, 16), 0, "within the second: held back at the source");
	cr_assert_eq(cgn_events_limited(), limited + 2);
	pcp_server_free(srv);
}

Test(pcp_events, a_create_the_ring_refuses_reports_nothing)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("127.0.0.13");
	struct pcp_response r;
	struct cgn_event ev[16];
	ring_full = true;
	cr_assert_eq(request(srv, &c, 8000, 600, 1, 0, 0, &r), PCP_RES_NO_RESOURCES);
	cr_assert_eq(request(srv, &c, 8001, 600, 1, 4, 0, &r), PCP_RES_NO_RESOURCES, "a port set");
	cr_assert_eq(request(srv, &c, 8010, 600, 1, 0, 80, &r), PCP_RES_NO_RESOURCES, "a PEER");
	uint16_t ext_port;
	uint32_t granted;
	cr_assert_eq(natpmp(srv, &c, 8020, 600, &ext_port, &granted), 4);
	cr_assert_eq(drain(ev, 16), 0, "nothing took effect, nothing is reported");
	cr_assert_eq(pcp_server_mapping_count(srv), 0);
	/* and a delete the ring refuses leaves the mapping, unreported */
	ring_full = false;
	cr_assert_eq(request(srv, &c, 8000, 600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	ring_full = true;
	cr_assert_eq(request(srv, &c, 8000, 0, 1, 0, 0, &r), PCP_RES_NO_RESOURCES);
	cr_assert_eq(drain(ev, 16), 0);
	ring_full = false;
	pcp_server_free(srv);
}

Test(pcp_events, a_pool_change_moves_a_mapping_delete_then_create)
{
	struct pcp_server *srv = server("");
	struct cgn_addr c = addr("127.0.0.14");
	struct pcp_response r;
	struct cgn_event ev[16];
	cr_assert_eq(request(srv, &c, 9000, 600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	uint32_t old_ext = cgn_addr_v4(&r.u.map.external_addr);
	uint16_t old_port = r.u.map.external_port;
	cr_assert_eq(drain(ev, 16), 1);

	static struct cgn_config next;
	make_cfg(&next, "", POOL_B, false);
	char err[256];
	cr_assert_eq(pcp_server_reload(srv, &next, cgn_clock_ms(), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(drain(ev, 16), 2);
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_POOL, &c, 9000, old_ext, old_port, 0);
	struct cgn_key k = cgn_key_make(&c, 9000, 17, CGN_SIDE_INSIDE);
	const struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &k);
	cr_assert_not_null(rec);
	cr_assert_neq(rec->ext_addr, old_ext);
	check_bib(&ev[1], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_POOL, &c, 9000, rec->ext_addr, rec->ext_port,
		  rec->lifetime_s);
	/* the moved mapping's end is reported as any other's, on its new endpoint */
	uint32_t new_ext = rec->ext_addr;
	uint16_t new_port = rec->ext_port;
	cr_assert_eq(request(srv, &c, 9000, 0, 1, 0, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(drain(ev, 16), 1);
	check_bib(&ev[0], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_PCP, &c, 9000, new_ext, new_port, 0);
	pcp_server_free(srv);
}

Test(pcp_events, a_restore_reports_moves_and_what_does_not_come_back)
{
	struct pcp_server *srv = server_with("", POOL_A, true);
	struct cgn_addr c = addr("127.0.0.15");
	struct pcp_response r;
	struct cgn_event ev[16];
	cr_assert_eq(request(srv, &c, 9100, 3600, 1, 0, 0, &r), PCP_RES_SUCCESS);
	uint32_t old_ext = cgn_addr_v4(&r.u.map.external_addr);
	uint16_t old_port = r.u.map.external_port;
	cr_assert_eq(request(srv, &c, 9101, 1, 2, 0, 0, &r), PCP_RES_SUCCESS, "one that runs out meanwhile");
	uint16_t short_port = r.u.map.external_port;
	cr_assert_eq(drain(ev, 16), 2);
	pcp_server_free(srv);

	/* the same pool: restored as it was, nothing to report */
	srv = server_with("", POOL_A, true);
	cr_assert_eq(drain(ev, 16), 0);
	pcp_server_free(srv);
	usleep(1200 * 1000); /* 9101's lifetime (1 s) runs out while cgnatd is down */

	/* another pool: 9100 moves; 9101 does not come back */
	srv = server_with("", POOL_B, true);
	unsigned n = drain(ev, 16);
	cr_assert_eq(n, 3);
	bool expired = false, deleted = false, created = false;
	struct cgn_key k = cgn_key_make(&c, 9100, 17, CGN_SIDE_INSIDE);
	const struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &k);
	cr_assert_not_null(rec);
	for (unsigned i = 0; i < n; i++) {
		cr_assert(cgn_event_check(&ev[i]));
		if (ev[i].int_port == 9101) {
			check_bib(&ev[i], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_PCP, &c, 9101, old_ext, short_port, 0);
			expired = true;
		} else if (ev[i].nat_event == CGN_NATEV_NAT44_BIB_DELETE) {
			check_bib(&ev[i], CGN_NATEV_NAT44_BIB_DELETE, CGN_ORIGIN_POOL, &c, 9100, old_ext, old_port, 0);
			cr_assert(!created, "the old endpoint's end first");
			deleted = true;
		} else {
			check_bib(&ev[i], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_POOL, &c, 9100, rec->ext_addr,
				  rec->ext_port, rec->lifetime_s);
			created = true;
		}
	}
	cr_assert(expired && deleted && created);
	pcp_server_free(srv);
}

/* The data plane's implicit mapping that a MAP adopts (§11.3 item 4): 127.0.0.1 UDP 5000 on
 * 203.0.113.1:40000. */
static bool
find_implicit_stub(void *ctx, const struct cgn_key *in, uint32_t *ext_addr, uint16_t *ext_port, uint8_t *pref64)
{
	(void)ctx;
	(void)pref64;
	if (in->port != 5000)
		return false;
	*ext_addr = htonl(0xcb007101);
	*ext_port = 40000;
	return true;
}

/* With session logging, the implicit session a MAP adopts was reported created by its worker
 * (NAT44_SESSION_CREATE): it ends as a session (NAT44_SESSION_DELETE) when it becomes a BIB
 * entry (NAT44_BIB_CREATE), or its creation would never be matched by an end: the BIB
 * entry's DELETE closes the BIB entry only (RFC 8158 §4.6.1: not both for one mapping). */
Test(pcp_events, a_map_adopting_an_implicit_session_ends_the_session)
{
	make_cfg(&cfg, "", POOL_A, false);
	cfg.logging.sessions = true;
	cr_assert_eq(cgn_events_init(&cfg), 0);
	struct pcp_server_ops ops = { .push = push, .find_implicit = find_implicit_stub };
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
	cr_assert_not_null(srv);
	cr_assert_eq(pcp_server_start(srv, cgn_clock_ms()), 0);
	struct cgn_event ev[8];
	drain(ev, 8);
	struct cgn_addr client = addr("127.0.0.1");
	struct pcp_response resp;
	cr_assert_eq(request(srv, &client, 5000, 600, 1, 0, 0, &resp), PCP_RES_SUCCESS);
	cr_assert_eq(resp.u.map.external_port, 40000, "the implicit mapping's port, adopted");
	unsigned n = drain(ev, 8);
	cr_assert_eq(n, 2, "the session's end and the BIB entry's creation: %u events", n);
	cr_assert(cgn_event_check(&ev[0]));
	cr_assert_eq(ev[0].nat_event, CGN_NATEV_NAT44_SESSION_DELETE);
	cr_assert_eq(ev[0].origin, CGN_ORIGIN_DATA);
	cr_assert_eq(ev[0].proto, 17);
	cr_assert(cgn_addr_eq(&ev[0].internal, &client));
	cr_assert_eq(ev[0].int_port, 5000);
	cr_assert_eq(ev[0].ext_addr, htonl(0xcb007101));
	cr_assert_eq(ev[0].ext_port, 40000);
	check_bib(&ev[1], CGN_NATEV_NAT44_BIB_CREATE, CGN_ORIGIN_PCP, &client, 5000, htonl(0xcb007101), 40000, 600);
	pcp_server_free(srv);
	cgn_events_fini();
}
