/*
 * /cgnat/ telemetry commands (see telemetry.h).
 */
#include "telemetry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "logger.h"
#include "pcp_registry.h"

static struct {
	const struct cgn_config *cfg;
	struct pcp_server *srv;
	struct cgn_dataplane *dp;
	uint64_t start_ms;
	bool attached;
	const char *why;             /* what unattached callbacks answer */
	unsigned busy;               /* callbacks running; detach waits for 0 */
	pthread_mutex_t reader_lock; /* one RCU reader id: one table walk at a time */
} tel = { .reader_lock = PTHREAD_MUTEX_INITIALIZER };

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/*
 * Every callback runs between enter() and leave(), and every read of the metrics page
 * (control/metrics.c) between cgn_telemetry_read_begin() and _end(). DPDK runs one telemetry
 * thread per client connection, so several may run at once; suspend and detach wait until none
 * does before the objects change or go.
 */
bool
cgn_telemetry_read_begin(const char **why)
{
	__atomic_add_fetch(&tel.busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&tel.attached, __ATOMIC_SEQ_CST))
		return true;
	__atomic_sub_fetch(&tel.busy, 1, __ATOMIC_SEQ_CST);
	const char *w = __atomic_load_n(&tel.why, __ATOMIC_SEQ_CST);
	*why = w ? w : "shutting down";
	return false;
}

void
cgn_telemetry_read_end(void)
{
	__atomic_sub_fetch(&tel.busy, 1, __ATOMIC_SEQ_CST);
}

static bool
enter(struct rte_tel_data *d)
{
	const char *why;
	if (cgn_telemetry_read_begin(&why))
		return true;
	rte_tel_data_string(d, why);
	return false;
}

static int
leave(int rc)
{
	cgn_telemetry_read_end();
	return rc;
}

static int
cmd_info(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	char buf[CGN_PREFIX_STRLEN + 8];
	if (!enter(d))
		return 0;
	uint64_t now = cgn_clock_ms();

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", CGN_VERSION);
	rte_tel_data_add_dict_u64(d, "uptime_s", (now - tel.start_ms) / 1000);
	rte_tel_data_add_dict_u64(d, "epoch", pcp_server_epoch(tel.srv, now));
	rte_tel_data_add_dict_u64(d, "workers", tel.dp->n_workers);
	rte_tel_data_add_dict_u64(d, "table_capacity", tel.dp->table->capacity);
	const struct cgn_pb *pb = pcp_server_pb(tel.srv);
	rte_tel_data_add_dict_u64(d, "pool_addresses", pb->p.n_addrs);
	rte_tel_data_add_dict_u64(d, "block_size", pb->p.block_size);
	rte_tel_data_add_dict_u64(d, "blocks_per_address", pb->blocks_per_addr);
	rte_tel_data_add_dict_u64(d, "max_blocks_per_subscriber", pb->p.max_blocks);
	rte_tel_data_add_dict_u64(d, "max_mappings_per_subscriber", tel.cfg->pcp.max_mappings_per_subscriber);
	rte_tel_data_add_dict_u64(d, "subscribers", __atomic_load_n(&pb->n_subs, __ATOMIC_SEQ_CST));
	snprintf(buf, sizeof(buf), "%u-%u", tel.cfg->nat.port_min, tel.cfg->nat.port_max);
	rte_tel_data_add_dict_string(d, "pool_ports", buf);

	struct rte_tel_data *listen = rte_tel_data_alloc();
	if (listen) {
		rte_tel_data_start_array(listen, RTE_TEL_STRING_VAL);
		for (unsigned i = 0; i < tel.cfg->pcp.n_listen; i++) {
			char a[CGN_ADDR_STRLEN];
			cgn_addr_format(&tel.cfg->pcp.listen[i].addr, a, sizeof(a));
			snprintf(buf, sizeof(buf), cgn_addr_is_v4(&tel.cfg->pcp.listen[i].addr) ? "%s:%u" : "[%s]:%u",
				 a, tel.cfg->pcp.listen[i].port);
			rte_tel_data_add_array_string(listen, buf);
		}
		rte_tel_data_add_dict_container(d, "pcp_listen", listen, 0);
	}
	struct rte_tel_data *pool = rte_tel_data_alloc();
	if (pool) {
		rte_tel_data_start_array(pool, RTE_TEL_STRING_VAL);
		for (unsigned i = 0; i < tel.cfg->nat.n_pool; i++)
			rte_tel_data_add_array_string(pool, cgn_prefix_format(&tel.cfg->nat.pool[i], buf, sizeof(buf)));
		rte_tel_data_add_dict_container(d, "pool", pool, 0);
	}
	return leave(0);
}

/* A worker's packet counters (or their sum): pkt_*, every drop reason by name, and why ND
 * (and echo) messages were refused (drop_ND_INVALID, by RFC 4861 §7.1's rules). */
static void
add_pkt_stats(struct rte_tel_data *d, const struct cgn_pkt_stats *s)
{
	char name[RTE_TEL_MAX_STRING_LEN];
#define X(field, doc) rte_tel_data_add_dict_u64(d, "pkt_" #field, LOAD(s->field));
	CGN_PKT_COUNTERS(X)
#undef X
	for (int r = 0; r < CGN_DROP_COUNT; r++) {
		snprintf(name, sizeof(name), "drop_%s", cgn_drop_name((enum cgn_drop_reason)r));
		rte_tel_data_add_dict_u64(d, name, LOAD(s->drops[r]));
	}
	/* The breakdowns of drop_ND_INVALID and drop_NAT64_ICMP_ERROR by reason: only those that
	 * happened (a dict holds at most RTE_TEL_MAX_DICT_ENTRIES, 256; with every reason of both
	 * and eight ports it would not). An absent one is 0. */
	for (int r = 1; r < CGN_ND_RESULT_COUNT; r++) {
		uint64_t v = LOAD(s->nd_refused[r]);
		snprintf(name, sizeof(name), "pkt_nd_refused_%s", cgn_nd_result_name((enum cgn_nd_result)r));
		if (v != 0)
			rte_tel_data_add_dict_u64(d, name, v);
	}
	for (int r = 1; r < CGN_XLAT_ERR_COUNT; r++) {
		uint64_t v = LOAD(s->nat64_error[r]);
		snprintf(name, sizeof(name), "pkt_nat64_error_%s", cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)r));
		if (v != 0)
			rte_tel_data_add_dict_u64(d, name, v);
	}
}

static void
add_counter(void *ctx, const char *name, uint64_t value)
{
	rte_tel_data_add_dict_u64(ctx, name, value);
}

/* /cgnat/logging: NAT logging's counters, the logger's and each destination's
 * (<sink>_<counter>: ipfix_sent, syslog_dropped, ...; docs/operations.md "NAT logging"). */
static int
cmd_logging(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	if (!enter(d))
		return 0;
	rte_tel_data_start_dict(d);
	cgn_logger_foreach_counter(add_counter, d);
	return leave(0);
}

static int
cmd_stats(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	char name[RTE_TEL_MAX_STRING_LEN];
	if (!enter(d))
		return 0;
	const struct pcp_server_stats *ps = pcp_server_stats(tel.srv);

	rte_tel_data_start_dict(d);

	/* PCP: the event counters, then one counter per drop reason, opcode and result code, by
	 * name, then the server's state (mappings, sessions, holds now). */
#define X(field, doc) rte_tel_data_add_dict_u64(d, "pcp_" #field, LOAD(ps->field));
	PCP_SERVER_COUNTERS(X)
#undef X
	for (int r = 0; r < PCP_DROP_COUNT; r++) {
		snprintf(name, sizeof(name), "pcp_drop_%s", pcp_drop_reason_name(r));
		rte_tel_data_add_dict_u64(d, name, LOAD(ps->dropped[r]));
	}
	for (int op = 0; op <= PCP_OP_COUNT; op++) {
		const char *n = op < PCP_OP_COUNT ? pcp_opcode_name((uint8_t)op) : "OTHER";
		snprintf(name, sizeof(name), "pcp_opcode_%s", n);
		rte_tel_data_add_dict_u64(d, name, LOAD(ps->by_opcode[op]));
	}
	for (int rc = 0; rc <= PCP_RES_COUNT; rc++) {
		const char *n = rc < PCP_RES_COUNT ? pcp_result_name((uint8_t)rc) : "OTHER";
		snprintf(name, sizeof(name), "pcp_result_%s", n);
		rte_tel_data_add_dict_u64(d, name, LOAD(ps->by_result[rc]));
	}
	static const char *const natpmp_ops[NATPMP_OPCODES] = { "ADDRESS", "MAP_UDP", "MAP_TCP", "OTHER" };
	for (int op = 0; op < NATPMP_OPCODES; op++) {
		snprintf(name, sizeof(name), "natpmp_opcode_%s", natpmp_ops[op]);
		rte_tel_data_add_dict_u64(d, name, LOAD(ps->natpmp_by_opcode[op]));
	}
	for (int rc = 0; rc < 6; rc++) {
		snprintf(name, sizeof(name), "natpmp_result_%d", rc);
		rte_tel_data_add_dict_u64(d, name, LOAD(ps->natpmp_by_result[rc]));
	}
	rte_tel_data_add_dict_u64(d, "pcp_mappings", pcp_server_mapping_count(tel.srv));
	rte_tel_data_add_dict_u64(d, "pcp_sessions", pcp_server_session_count(tel.srv));
	rte_tel_data_add_dict_u64(d, "pcp_ports_held", pcp_server_hold_count(tel.srv));

	/* The shared table. */
	const struct cgn_table_stats *ts = &tel.dp->table->stats;
	rte_tel_data_add_dict_u64(d, "table_mappings", cgn_table_count(tel.dp->table));
#define X(field, doc) rte_tel_data_add_dict_u64(d, "table_" #field, LOAD(ts->field));
	CGN_TABLE_COUNTERS(X)
#undef X
	rte_tel_data_add_dict_u64(d, "ring_backlog", cgn_dataplane_backlog(tel.dp));
	/* NAT logging (logger.h): log_events, log_dropped, log_invalid; each destination's own
	 * counters are in /cgnat/logging (this dict holds at most 256 keys). */
	struct cgn_logger_totals lt;
	cgn_logger_totals(&lt);
	rte_tel_data_add_dict_u64(d, "log_events", lt.events);
	rte_tel_data_add_dict_u64(d, "log_dropped", lt.dropped);
	rte_tel_data_add_dict_u64(d, "log_invalid", lt.invalid);
#define X(field, doc) rte_tel_data_add_dict_u64(d, "punt_" #field, LOAD(tel.dp->punt_stats.field));
	CGN_PUNT_COUNTERS(X)
#undef X
	const struct cgn_routes *rt = &tel.dp->routes;
#define X(member, name, doc) rte_tel_data_add_dict_u64(d, "nh_" #name, LOAD(rt->stats.member));
	CGN_ROUTE_COUNTERS(X)
#undef X
	rte_tel_data_add_dict_u64(d, "nh_learned_now", LOAD(rt->n_learned));
	uint64_t resolved = 0;
	for (uint32_t i = 0; i < rt->capacity; i++)
		resolved += LOAD(rt->neigh[i].in_use) && (LOAD(rt->neigh[i].mac) & CGN_NEIGH_VALID);
	rte_tel_data_add_dict_u64(d, "nh_resolved_now", resolved);

	/* Workers, summed (per-worker figures come with the packet counters). */
	struct cgn_worker_stats sum = { 0 };
	for (unsigned i = 0; i < tel.dp->n_workers; i++) {
		const struct cgn_worker_stats *ws = &tel.dp->workers[i].stats;
#define X(field, doc) sum.field += LOAD(ws->field);
		CGN_WORKER_COUNTERS(X)
#undef X
	}
#define X(field, doc) rte_tel_data_add_dict_u64(d, "worker_" #field, sum.field);
	CGN_WORKER_COUNTERS(X)
#undef X

	/* Packets: summed over workers, then every drop reason by name. */
	struct cgn_pkt_stats ps_sum = { 0 };
	for (unsigned i = 0; i < tel.dp->n_workers; i++) {
		const struct cgn_pkt_stats *s = &tel.dp->workers[i].pkt;
#define X(field, doc) ps_sum.field += LOAD(s->field);
		CGN_PKT_COUNTERS(X)
#undef X
		for (int r = 0; r < CGN_DROP_COUNT; r++)
			ps_sum.drops[r] += LOAD(s->drops[r]);
		for (int r = 1; r < CGN_ND_RESULT_COUNT; r++)
			ps_sum.nd_refused[r] += LOAD(s->nd_refused[r]);
		for (int r = 1; r < CGN_XLAT_ERR_COUNT; r++)
			ps_sum.nat64_error[r] += LOAD(s->nat64_error[r]);
	}
	add_pkt_stats(d, &ps_sum);
	for (unsigned i = 0; i < tel.dp->n_ports; i++) {
		struct rte_eth_stats es;
		if (rte_eth_stats_get(tel.dp->ports[i].port_id, &es) != 0)
			continue;
		snprintf(name, sizeof(name), "port%u_ipackets", i);
		rte_tel_data_add_dict_u64(d, name, es.ipackets);
		snprintf(name, sizeof(name), "port%u_opackets", i);
		rte_tel_data_add_dict_u64(d, name, es.opackets);
		snprintf(name, sizeof(name), "port%u_imissed", i);
		rte_tel_data_add_dict_u64(d, name, es.imissed);
		snprintf(name, sizeof(name), "port%u_oerrors", i);
		rte_tel_data_add_dict_u64(d, name, es.oerrors);
		snprintf(name, sizeof(name), "port%u_mtu", i);
		rte_tel_data_add_dict_u64(d, name, tel.dp->ports[i].mtu);
		struct rte_eth_link link;
		if (rte_eth_link_get_nowait(tel.dp->ports[i].port_id, &link) == 0) {
			snprintf(name, sizeof(name), "port%u_link_up", i);
			rte_tel_data_add_dict_u64(d, name, link.link_status);
			snprintf(name, sizeof(name), "port%u_link_mbps", i);
			rte_tel_data_add_dict_u64(d, name, link.link_speed);
		}
	}
	return leave(0);
}

static const char *
proto_name(uint8_t p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : "other";
}

static void
flags_text(uint16_t flags, char *buf, size_t size)
{
	static const char *const names[] = {
#define X(name, bit, doc) [bit] = #name,
		CGN_MAP_FLAGS(X)
#undef X
	};
	size_t off = 0;
	buf[0] = '\0';
	for (unsigned b = 0; b < sizeof(names) / sizeof(names[0]); b++)
		if ((flags & (1u << b)) && off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "", names[b]);
}

/* Parses "START[,COUNT[,SUBSCRIBER]]". */
static int
page_params(const char *params, uint32_t *start, uint32_t *count, struct cgn_addr *sub, bool *have_sub)
{
	*start = 0;
	*count = CGN_TEL_PAGE_DEFAULT;
	*have_sub = false;
	if (params == NULL || *params == '\0')
		return 0;
	char *end;
	unsigned long s = strtoul(params, &end, 10);
	if (end == params || (*end != '\0' && *end != ','))
		return -EINVAL;
	*start = (uint32_t)s;
	if (*end == ',') {
		const char *c = end + 1;
		unsigned long n = strtoul(c, &end, 10);
		if (end == c || (*end != '\0' && *end != ',') || n == 0)
			return -EINVAL;
		*count = n > CGN_TEL_PAGE_MAX ? CGN_TEL_PAGE_MAX : (uint32_t)n;
		if (*end == ',') {
			if (cgn_addr_parse(end + 1, sub) < 0)
				return -EINVAL;
			*have_sub = true;
		}
	}
	return 0;
}

/* What a page of mappings may fill of the socket's reply: DPDK 22.11 writes at most 16 KiB
 * (MAX_OUTPUT_LEN in lib/telemetry) and silently leaves out a container that does not fit, so
 * a page stops before an entry would pass this (with room for total, count, next). */
#define PAGE_BUDGET (16 * 1024 - 512)
/* A mapping's JSON beside its variable strings: the names, quotes and separators of its
 * members, numbers at their longest, the fixed-width values, its own name "mapping_NN". */
#define ENTRY_FIXED 320

/* A mapping as one dict, with the octets its JSON takes at most in *size. NULL if memory is
 * short. */
static struct rte_tel_data *
mapping_entry(const struct cgn_mapping *m, uint64_t now, size_t *size)
{
	char a[CGN_ADDR_STRLEN], buf[RTE_TEL_MAX_STRING_LEN];
	struct rte_tel_data *e = rte_tel_data_alloc();
	if (e == NULL)
		return NULL;
	*size = ENTRY_FIXED;
	rte_tel_data_start_dict(e);
	rte_tel_data_add_dict_string(e, "proto", proto_name(m->proto));
	bool nat64 = !cgn_addr_is_v4(&m->int_addr);
	/* An IPv6 internal endpoint (NAT64) is written [address]:port (RFC 5952 §6). A port set
	 * (RFC 7753; the row of its first port, cmd_mappings) as ranges: address:first-last. */
	char range[16] = "";
	if (m->set_size > 1)
		snprintf(range, sizeof(range), "-%u", m->int_port + m->set_size - 1);
	snprintf(buf, sizeof(buf), nat64 ? "[%s]:%u%s" : "%s:%u%s", cgn_addr_format(&m->int_addr, a, sizeof(a)),
		 m->int_port, range);
	rte_tel_data_add_dict_string(e, "internal", buf);
	*size += strlen(buf);
	struct cgn_addr ext = cgn_addr_from_v4(m->ext_addr);
	if (m->set_size > 1)
		snprintf(range, sizeof(range), "-%u", m->ext_port + m->set_size - 1);
	snprintf(buf, sizeof(buf), "%s:%u%s", cgn_addr_format(&ext, a, sizeof(a)), m->ext_port, range);
	rte_tel_data_add_dict_string(e, "external", buf);
	*size += strlen(buf);
	rte_tel_data_add_dict_u64(e, "set_size", m->set_size);
	uint64_t lifetime_s, expires_in_s;
	if (cgn_mapping_workers_own(m->flags)) {
		/* An implicit session lives by its idle timeout (dataplane/steps/expire.c, same test):
		 * lifetime_s is that timeout, expires_in_s the idle time left. */
		uint64_t end = cgn_idle_expiry_ms(tel.dp->cfg, m);
		lifetime_s = cgn_idle_timeout_ms(tel.dp->cfg, m->proto, LOAD(m->tcp_state)) / 1000;
		expires_in_s = end > now ? (end - now) / 1000 : 0;
	} else {
		uint64_t exp = LOAD(m->expire_ms);
		lifetime_s = LOAD(m->lifetime_s);
		expires_in_s = exp == UINT64_MAX ? UINT32_MAX : exp > now ? (exp - now) / 1000 : 0;
	}
	rte_tel_data_add_dict_u64(e, "lifetime_s", lifetime_s);
	rte_tel_data_add_dict_u64(e, "expires_in_s", expires_in_s);
	flags_text(m->flags, buf, sizeof(buf));
	rte_tel_data_add_dict_string(e, "flags", buf);
	*size += strlen(buf);
	rte_tel_data_add_dict_string(e, "family", nat64 ? "nat64" : "nat44");
	size_t off = 0;
	buf[0] = '\0';
	for (unsigned k = 0; k < m->n_filters && k < CGN_MAP_FILTERS; k++) {
		char fa[CGN_ADDR_STRLEN];
		const struct cgn_filter *f = &m->filters[k];
		bool v4 = cgn_addr_is_v4(&f->addr) && f->prefix_len >= 96;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s/%u:%u", k ? " " : "",
					cgn_addr_format(&f->addr, fa, sizeof(fa)), v4 ? f->prefix_len - 96 : f->prefix_len,
					f->port);
		if (off >= sizeof(buf))
			break;
	}
	rte_tel_data_add_dict_string(e, "filters", buf);
	*size += strlen(buf);
	static const char *const tcp_states[] = { "-", "transitory", "established", "closing" };
	rte_tel_data_add_dict_string(e, "tcp_state", tcp_states[m->tcp_state < 4 ? m->tcp_state : 0]);
	uint64_t last = __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED);
	rte_tel_data_add_dict_u64(e, "idle_s", last && now > last ? (now - last) / 1000 : 0);
	for (int k = 0; k < 12; k++)
		snprintf(buf + 2 * k, 3, "%02x", m->nonce[k]);
	rte_tel_data_add_dict_string(e, "nonce", buf);
	/* RFC 7220 DESCRIPTION of a PCP mapping, from the server's locked copy (the records are
	 * the control thread's): the first octets of the text, at most 127 and cut at a
	 * character boundary, as an ASCII JSON string body (\uXXXX for the rest): DPDK 22.11's
	 * string values hold 127 characters, and its escaper drops control characters and turns
	 * octets above 0x7f into invalid escapes (it compares a signed char with 0x20). description_len: the octets stored, more when the text is cut. */
	uint16_t stored;
	struct cgn_key in = cgn_key_make(&m->int_addr, m->int_port, m->proto, CGN_SIDE_INSIDE);
	if (!cgn_mapping_workers_own(m->flags) && pcp_server_description(tel.srv, &in, buf, sizeof(buf), &stored)) {
		rte_tel_data_add_dict_string(e, "description", buf);
		rte_tel_data_add_dict_u64(e, "description_len", stored);
		*size += 48 + 2 * strlen(buf); /* DPDK doubles each backslash */
	}
	return e;
}

static int
cmd_mappings(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	uint32_t cursor, count;
	struct cgn_addr sub;
	bool have_sub;
	if (!enter(d))
		return 0;
	if (page_params(params, &cursor, &count, &sub, &have_sub) < 0)
		return leave(-EINVAL);

	struct cgn_table *t = tel.dp->table;
	unsigned reader = CGN_READER_TELEMETRY(tel.dp);
	uint64_t now = cgn_clock_ms();
	uint32_t n = 0;

	/* DPDK telemetry nests one level only: the page is a dict holding total, count, next
	 * and one dict per mapping, named mapping_0, mapping_1, ... */
	rte_tel_data_start_dict(d);

	if (have_sub)
		sub = cgn_subscriber_addr(tel.dp->cfg, &sub);
	/* Online as an RCU reader: no entry we hold is recycled until we go offline. */
	pthread_mutex_lock(&tel.reader_lock);
	cgn_table_reader_online(t, reader);
	const struct cgn_mapping *m;
	size_t used = 0;
	bool full = false;
	for (uint32_t at = cursor; n < count && (m = cgn_table_next(t, &cursor)) != NULL; at = cursor) {
		/* A port set is one row, its first port's: the others are not listed. */
		if (m->set_size > 1 && m->int_port != m->set_first)
			continue;
		if (have_sub) { /* an IPv6 subscriber is its prefix: any address of it names it */
			struct cgn_addr ms = cgn_subscriber_addr(tel.dp->cfg, &m->int_addr);
			if (!cgn_addr_eq(&ms, &sub))
				continue;
		}
		size_t size;
		struct rte_tel_data *e = mapping_entry(m, now, &size);
		if (e == NULL)
			continue;
		if (n > 0 && used + size > PAGE_BUDGET) { /* the next page starts with it */
			rte_tel_data_free(e);
			cursor = at;
			full = true;
			break;
		}
		char name[32];
		snprintf(name, sizeof(name), "mapping_%u", n);
		rte_tel_data_add_dict_container(d, name, e, 0);
		used += size;
		n++;
	}
	bool more = full || (n == count && cgn_table_next(t, &(uint32_t){ cursor }) != NULL);
	cgn_table_reader_offline(t, reader);
	pthread_mutex_unlock(&tel.reader_lock);

	rte_tel_data_add_dict_u64(d, "total", cgn_table_count(t));
	rte_tel_data_add_dict_u64(d, "count", n);
	rte_tel_data_add_dict_u64(d, "next", more ? cursor : 0);
	return leave(0);
}

/* /cgnat/worker,N: one worker's counters, packets and drops by reason. */
static int
cmd_worker(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	if (!enter(d))
		return 0;
	unsigned long i = params && *params ? strtoul(params, NULL, 10) : 0;
	if (i >= tel.dp->n_workers)
		return leave(-EINVAL);
	const struct cgn_worker *w = &tel.dp->workers[i];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "lcore", w->lcore_id);
#define X(field, doc) rte_tel_data_add_dict_u64(d, #field, LOAD(w->stats.field));
	CGN_WORKER_COUNTERS(X)
#undef X
	add_pkt_stats(d, &w->pkt);
	return leave(0);
}

/* /cgnat/subscriber,ADDR: one subscriber's address, blocks and quota use. */
static int
cmd_subscriber(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct cgn_addr a;
	char buf[CGN_ADDR_STRLEN + 16];
	if (params == NULL || cgn_addr_parse(params, &a) < 0)
		return -EINVAL;
	if (!enter(d))
		return 0;
	const struct cgn_pb *pb = pcp_server_pb(tel.srv);
	a = cgn_subscriber_addr(tel.dp->cfg, &a); /* an IPv6 subscriber (NAT64) is its prefix */
	int32_t si = cgn_pb_subscriber((struct cgn_pb *)pb, &a, false);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "subscriber", cgn_addr_format(&a, buf, sizeof(buf)));
	if (si < 0) {
		rte_tel_data_add_dict_string(d, "state", "unknown");
		return leave(0);
	}
	struct cgn_pb_sub *s = cgn_pb_sub(pb, (uint32_t)si);
	struct cgn_addr ext = cgn_addr_from_v4(pb->addrs[s->ext_index]);
	bool draining = __atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == CGN_PB_SUB_DRAINING;
	rte_tel_data_add_dict_string(d, "state", draining ? "draining" : "active");
	rte_tel_data_add_dict_string(d, "external", cgn_addr_format(&ext, buf, sizeof(buf)));
	uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST);
	rte_tel_data_add_dict_u64(d, "blocks", n);
	rte_tel_data_add_dict_u64(d, "blocks_max", pb->p.max_blocks);
	rte_tel_data_add_dict_u64(d, "ports_used", __atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST));
	rte_tel_data_add_dict_u64(d, "ports_quota", (uint64_t)pb->p.max_blocks * pb->p.block_size);
	rte_tel_data_add_dict_u64(d, "mappings", __atomic_load_n(&s->explicit_mappings, __ATOMIC_SEQ_CST));
	rte_tel_data_add_dict_u64(d, "mappings_quota", tel.cfg->pcp.max_mappings_per_subscriber);
	struct rte_tel_data *blocks = rte_tel_data_alloc();
	if (blocks) {
		rte_tel_data_start_array(blocks, RTE_TEL_STRING_VAL);
		for (uint32_t i = 0; i < n && i < pb->p.max_blocks; i++) {
			uint32_t gid1 = __atomic_load_n(&s->block[i], __ATOMIC_SEQ_CST);
			if (gid1 == 0)
				continue;
			uint16_t first = cgn_pb_block_first_port(pb, gid1 - 1);
			snprintf(buf, sizeof(buf), "%u-%u", first, first + pb->p.block_size - 1);
			rte_tel_data_add_array_string(blocks, buf);
		}
		rte_tel_data_add_dict_container(d, "port_blocks", blocks, 0);
	}
	return leave(0);
}

static const char *
port_name(unsigned i)
{
	return i < tel.cfg->n_ports ? tel.cfg->ports[i].name : "?";
}

/* /cgnat/neighbours[,START]: the neighbour table, IPv4 and IPv6 entries, 64 a page (one dict each). */
static int
cmd_neighbours(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	static const char *const kinds[] = { "gateway", "static", "learned" };
	char name[32], buf[CGN_ADDR_STRLEN];
	uint32_t slot = params && *params ? (uint32_t)strtoul(params, NULL, 10) : 0, n = 0;
	if (!enter(d))
		return 0;
	const struct cgn_routes *rt = &tel.dp->routes;
	uint64_t now = cgn_clock_ms();
	rte_tel_data_start_dict(d);
	for (; slot < rt->capacity && n < 64; slot++) {
		const struct cgn_neigh *nb = &rt->neigh[slot];
		if (!LOAD(nb->in_use))
			continue;
		struct rte_tel_data *e = rte_tel_data_alloc();
		if (e == NULL)
			break;
		rte_tel_data_start_dict(e);
		rte_tel_data_add_dict_string(e, "address", cgn_addr_format(&nb->addr, buf, sizeof(buf)));
		rte_tel_data_add_dict_string(e, "port", port_name(nb->port));
		rte_tel_data_add_dict_string(e, "kind", kinds[nb->kind <= CGN_NEIGH_LEARNED ? nb->kind : 0]);
		uint64_t w = LOAD(nb->mac), seen = LOAD(nb->seen_ms);
		if (w & CGN_NEIGH_VALID) {
			struct rte_ether_addr mac;
			char text[RTE_ETHER_ADDR_FMT_SIZE];
			cgn_neigh_mac(w, &mac);
			rte_ether_format_addr(text, sizeof(text), &mac);
			rte_tel_data_add_dict_string(e, "mac", text);
		}
		const char *state = !(w & CGN_NEIGH_VALID)            ? "incomplete"
				    : nb->kind == CGN_NEIGH_STATIC         ? "permanent"
				    : now < seen + rt->reachable_ms        ? "reachable"
									   : "stale";
		rte_tel_data_add_dict_string(e, "state", state);
		if ((w & CGN_NEIGH_VALID) && nb->kind != CGN_NEIGH_STATIC)
			rte_tel_data_add_dict_u64(e, "heard_ms_ago", now > seen ? now - seen : 0);
		snprintf(name, sizeof(name), "neighbour_%u", n++);
		rte_tel_data_add_dict_container(d, name, e, 0);
	}
	rte_tel_data_add_dict_u64(d, "count", n);
	rte_tel_data_add_dict_u64(d, "next", slot < rt->capacity ? slot : 0);
	return leave(0);
}

/* /cgnat/routes: the route tables of both families as configured (a port's next_hop is its
 * 0.0.0.0/0). */
static int
cmd_routes(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	char name[32], buf[CGN_PREFIX_STRLEN];
	if (!enter(d))
		return 0;
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < tel.cfg->n_routes; i++) {
		const struct cgn_route_cfg *r = &tel.cfg->routes[i];
		struct rte_tel_data *e = rte_tel_data_alloc();
		if (e == NULL)
			break;
		rte_tel_data_start_dict(e);
		rte_tel_data_add_dict_string(e, "prefix", cgn_prefix_format(&r->net, buf, sizeof(buf)));
		rte_tel_data_add_dict_string(e, "table", tel.cfg->ports[r->port].role == CGN_PORT_INSIDE ? "inside" : "outside");
		rte_tel_data_add_dict_string(e, "port", port_name(r->port));
		rte_tel_data_add_dict_string(e, "via", cgn_route_is_connected(r) ? "connected"
								 : cgn_addr_format(&r->via, buf, sizeof(buf)));
		snprintf(name, sizeof(name), "route_%u", i);
		rte_tel_data_add_dict_container(d, name, e, 0);
	}
	rte_tel_data_add_dict_u64(d, "count", tel.cfg->n_routes);
	return leave(0);
}

/* /cgnat/pool[,START]: blocks in use per pool address, up to 200 addresses a page. */
static int
cmd_pool(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	char buf[CGN_ADDR_STRLEN];
	uint32_t start = params && *params ? (uint32_t)strtoul(params, NULL, 10) : 0;
	if (!enter(d))
		return 0;
	const struct cgn_pb *pb = pcp_server_pb(tel.srv);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "addresses", pb->p.n_addrs);
	rte_tel_data_add_dict_u64(d, "blocks_per_address", pb->blocks_per_addr);
	uint32_t total = 0;
	for (uint32_t i = 0; i < pb->p.n_addrs; i++)
		total += __atomic_load_n(&pb->addr_blocks[i], __ATOMIC_SEQ_CST);
	rte_tel_data_add_dict_u64(d, "blocks_used", total);
	uint32_t end = start + 200 < pb->p.n_addrs ? start + 200 : pb->p.n_addrs;
	for (uint32_t i = start; i < end; i++) {
		struct cgn_addr a = cgn_addr_from_v4(pb->addrs[i]);
		rte_tel_data_add_dict_u64(d, cgn_addr_format(&a, buf, sizeof(buf)),
					  __atomic_load_n(&pb->addr_blocks[i], __ATOMIC_SEQ_CST));
	}
	rte_tel_data_add_dict_u64(d, "next", end < pb->p.n_addrs ? end : 0);
	return leave(0);
}

int
cgn_telemetry_init(const struct cgn_config *cfg, struct pcp_server *srv, struct cgn_dataplane *dp,
		   uint64_t start_ms)
{
	tel.cfg = cfg;
	tel.srv = srv;
	tel.dp = dp;
	tel.start_ms = start_ms;
	__atomic_store_n(&tel.attached, true, __ATOMIC_RELEASE);

	int rc;
	if ((rc = rte_telemetry_register_cmd("/cgnat/info", cmd_info,
					     "What runs: version, epoch, workers, pool. No parameters")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/stats", cmd_stats,
					     "Every counter by name. No parameters")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/logging", cmd_logging,
					     "NAT logging's counters: the logger's and each destination's. No parameters")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/worker", cmd_worker,
					     "One worker's counters: packets, drops by reason. Parameter: worker number")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/subscriber", cmd_subscriber,
					     "One subscriber: external address, port blocks, quota use. Parameter: ADDR")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/pool", cmd_pool,
					     "Port blocks in use per pool address. Parameter: START (optional)")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/neighbours", cmd_neighbours,
					     "The neighbour table: address, port, MAC, state. Parameter: START (optional); "
					     "'next' is the next START")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/routes", cmd_routes,
					     "The route tables: prefix, table, port, via. No parameters")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/mappings", cmd_mappings,
					     "Shared-table mappings. Parameters: START[,COUNT[,SUBSCRIBER]]; 'next' is the next START")) ||
	    (rc = rte_telemetry_register_cmd("/cgnat/sessions", cmd_mappings,
					     "Sessions (every mapping: explicit, static, PEER, implicit) of the shared table. "
					     "Parameters: START[,COUNT[,SUBSCRIBER]]")))
		return rc;
	return 0;
}

void
cgn_telemetry_suspend(const char *why)
{
	__atomic_store_n(&tel.why, why, __ATOMIC_SEQ_CST);
	__atomic_store_n(&tel.attached, false, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&tel.busy, __ATOMIC_SEQ_CST) != 0)
		sched_yield();
}

void
cgn_telemetry_resume(void)
{
	if (tel.srv != NULL) /* initialised */
		__atomic_store_n(&tel.attached, true, __ATOMIC_SEQ_CST);
}

void
cgn_telemetry_detach(void)
{
	cgn_telemetry_suspend("shutting down");
	tel.srv = NULL;
}
