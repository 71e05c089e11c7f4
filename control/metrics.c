/*
 * The Prometheus page (see metrics.h). One request builds the whole page into a buffer that
 * grows by doubling up to CGN_METRICS_PAGE_MAX, from the same counters `cgnatctl stats` reads
 * (telemetry.c cmd_stats) and with the same loads (relaxed; the allocator's words as
 * telemetry reads them), then hands it to libmicrohttpd, which frees it once sent.
 *
 * The format is the text exposition format 0.0.4: per family a "# HELP" line (the X-macro
 * doc strings; for a family with a reason label, every reason's doc), a "# TYPE" line, then
 * its samples together. Counters end in _total; the values one counter takes by worker, port,
 * opcode, result or reason are labels, never names. Every label value is written (zeros too),
 * so that rate() sees a series from its start.
 *
 * Adding a family is one line in build_page() (or a section it calls): counter() or gauge()
 * for an unlabelled value, per_worker() for a uint64_t of struct cgn_worker, or family()
 * followed by one sample() per label set; an X-macro list of counters is one #define around
 * one of them.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <rte_ethdev.h>

#include "cgn_drop.h"
#include "cgn_xlat_error.h"
#include "logger.h"
#include "pcp_registry.h"
#include "telemetry.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

#define PAGE_FIRST (64u << 10) /* the first buffer; later ones start at the last page's size */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct {
	const struct cgn_config *cfg;
	struct pcp_server *srv;
	struct cgn_dataplane *dp;
	struct MHD_Daemon *mhd;
	uint64_t start_s;   /* wall clock when the listener started */
	size_t last_len;    /* the last page's size: the next buffer starts there (libmicrohttpd's thread) */
	bool too_big_said;  /* the "page too big" message was logged (libmicrohttpd's thread) */
} met;

/* ---- the page: a growing buffer and the exposition format's lines ---- */

struct page {
	char *buf;
	size_t len, cap;
	bool too_big; /* it would pass CGN_METRICS_PAGE_MAX (or memory ran short): not served */
};

/* Makes room for n more octets and a NUL. @return false (too_big set) if it cannot. */
static bool
room(struct page *pg, size_t n)
{
	if (pg->too_big)
		return false;
	if (pg->len + n + 1 <= pg->cap)
		return true;
	size_t cap = pg->cap;
	while (cap < pg->len + n + 1 && cap < CGN_METRICS_PAGE_MAX)
		cap *= 2;
	if (cap > CGN_METRICS_PAGE_MAX)
		cap = CGN_METRICS_PAGE_MAX;
	char *b = cap >= pg->len + n + 1 ? realloc(pg->buf, cap) : NULL;
	if (b == NULL) {
		pg->too_big = true;
		return false;
	}
	pg->buf = b;
	pg->cap = cap;
	return true;
}

static void put(struct page *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct page *pg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !room(pg, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(pg->buf + pg->len, pg->cap - pg->len, fmt, ap);
	va_end(ap);
	pg->len += (size_t)n;
}

/* Text with the format's escapes: backslash and newline (HELP), and double quotes too
 * (label values). */
static void
put_escaped(struct page *pg, const char *s, bool label)
{
	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (label && *s == '"') ? "\\\"" : NULL;
		size_t n = esc ? 2 : 1;
		if (!room(pg, n))
			return;
		if (esc)
			memcpy(pg->buf + pg->len, esc, 2);
		else
			pg->buf[pg->len] = *s;
		pg->len += n;
	}
	pg->buf[pg->len] = '\0';
}

/* A family's HELP and TYPE lines; its samples follow, together. */
static void
family(struct page *pg, const char *name, const char *type, const char *help)
{
	put(pg, "# HELP %s ", name);
	put_escaped(pg, help, false);
	put(pg, "\n# TYPE %s %s\n", name, type);
}

/* One sample: name{k1="v1",k2="v2"} value. The labels are name/value pairs, NULL after the
 * last. */
static void sample(struct page *pg, const char *name, uint64_t v, ...) __attribute__((sentinel));

static void
sample(struct page *pg, const char *name, uint64_t v, ...)
{
	va_list ap;
	const char *k, *sep = "{";
	put(pg, "%s", name);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *)) != NULL) {
		put(pg, "%s%s=\"", sep, k);
		put_escaped(pg, va_arg(ap, const char *), true);
		put(pg, "\"");
		sep = ",";
	}
	va_end(ap);
	put(pg, "%s %" PRIu64 "\n", *sep == ',' ? "}" : "", v);
}

static void
counter(struct page *pg, const char *name, const char *help, uint64_t v)
{
	family(pg, name, "counter", help);
	sample(pg, name, v, NULL);
}

static void
gauge(struct page *pg, const char *name, const char *help, uint64_t v)
{
	family(pg, name, "gauge", help);
	sample(pg, name, v, NULL);
}

/* A counter of every worker, labelled worker="N": the uint64_t at offset off of struct
 * cgn_worker (its stats or pkt counters). */
static void
per_worker(struct page *pg, const char *name, const char *help, size_t off)
{
	char w[16];
	family(pg, name, "counter", help);
	for (unsigned i = 0; i < met.dp->n_workers; i++) {
		const uint64_t *p = (const uint64_t *)(const void *)((const char *)&met.dp->workers[i] + off);
		snprintf(w, sizeof(w), "%u", i);
		sample(pg, name, __atomic_load_n(p, __ATOMIC_RELAXED), "worker", w, NULL);
	}
}

/* ---- the families ---- */

/* HELP texts of the families labelled by reason: every reason with its doc string. */
static const char pcp_drop_help[] = "PCP and NAT-PMP datagrams not answered, by reason."
#define X(name, doc) " " #name ": " doc "."
	PCP_DROP_REASONS(X)
#undef X
	;
static const char drop_help[] = "Packets the data plane dropped, by reason and worker (docs/operations.md, "
				"\"Counters\")."
#define X(name, doc) " " #name ": " doc "."
	CGN_DROP_REASONS(X)
#undef X
	;
static const char nd_help[] = "Why ND or echo messages were refused (packets dropped ND_INVALID), by RFC 4861 "
			      "§7.1 rule and worker."
#define X(name, doc) " " #name ": " doc "."
	CGN_ND_REFUSALS(X)
#undef X
	;
static const char nat64_error_help[] = "Why ICMP errors were not translated by NAT64 (packets dropped "
				       "NAT64_ICMP_ERROR), by reason and worker."
#define X(name, doc) " " #name ": " doc "."
	CGN_XLAT_ERR_DROP_REASONS(X)
#undef X
	;

/* The PCP server's counters (control thread), by opcode, result and reason; its state now. */
static void
pcp_section(struct page *pg)
{
	const struct pcp_server_stats *ps = pcp_server_stats(met.srv);
#define X(field, doc) counter(pg, "cgnat_pcp_" #field "_total", "PCP: " doc, LOAD(ps->field));
	PCP_SERVER_COUNTERS(X)
#undef X
	family(pg, "cgnat_pcp_dropped_total", "counter", pcp_drop_help);
	for (int r = 0; r < PCP_DROP_COUNT; r++)
		sample(pg, "cgnat_pcp_dropped_total", LOAD(ps->dropped[r]), "reason",
		       pcp_drop_reason_name((enum pcp_drop_reason)r), NULL);
	family(pg, "cgnat_pcp_requests_total", "counter",
	       "PCP requests by opcode (RFC 6887 §19.2 names; OTHER: an opcode the registry does not list).");
	for (int op = 0; op <= PCP_OP_COUNT; op++)
		sample(pg, "cgnat_pcp_requests_total", LOAD(ps->by_opcode[op]), "opcode",
		       op < PCP_OP_COUNT ? pcp_opcode_name((uint8_t)op) : "OTHER", NULL);
	family(pg, "cgnat_pcp_responses_total", "counter",
	       "PCP responses by result code (RFC 6887 §7.4 names; OTHER: a code outside the registry).");
	for (int rc = 0; rc <= PCP_RES_COUNT; rc++)
		sample(pg, "cgnat_pcp_responses_total", LOAD(ps->by_result[rc]), "result",
		       rc < PCP_RES_COUNT ? pcp_result_name((uint8_t)rc) : "OTHER", NULL);
	static const char *const natpmp_ops[NATPMP_OPCODES] = { "ADDRESS", "MAP_UDP", "MAP_TCP", "OTHER" };
	family(pg, "cgnat_natpmp_requests_total", "counter",
	       "NAT-PMP requests by opcode (RFC 6886 §3: ADDRESS 0, MAP_UDP 1, MAP_TCP 2, OTHER).");
	for (int op = 0; op < NATPMP_OPCODES; op++)
		sample(pg, "cgnat_natpmp_requests_total", LOAD(ps->natpmp_by_opcode[op]), "opcode", natpmp_ops[op],
		       NULL);
	static const char *const natpmp_results[6] = { "SUCCESS",         "UNSUPP_VERSION",  "NOT_AUTHORIZED",
						       "NETWORK_FAILURE", "OUT_OF_RESOURCES", "UNSUPP_OPCODE" };
	family(pg, "cgnat_natpmp_responses_total", "counter",
	       "NAT-PMP responses by result code (RFC 6886 §3.5: SUCCESS 0, UNSUPP_VERSION 1, NOT_AUTHORIZED 2, "
	       "NETWORK_FAILURE 3, OUT_OF_RESOURCES 4, UNSUPP_OPCODE 5).");
	for (int rc = 0; rc < 6; rc++)
		sample(pg, "cgnat_natpmp_responses_total", LOAD(ps->natpmp_by_result[rc]), "result", natpmp_results[rc],
		       NULL);
	gauge(pg, "cgnat_pcp_mappings", "PCP and NAT-PMP (explicit) mappings now.", pcp_server_mapping_count(met.srv));
	gauge(pg, "cgnat_pcp_sessions", "PCP PEER sessions now.", pcp_server_session_count(met.srv));
	gauge(pg, "cgnat_pcp_ports_held", "Freed ports of explicit mappings on hold now (RFC 6887 §11.3).",
	      pcp_server_hold_count(met.srv));
	gauge(pg, "cgnat_pcp_epoch_seconds",
	      "The Epoch Time PCP responses carry (RFC 6887 §8.5): seconds since the server's state began; it "
	      "restarts on a pool change, telling clients to renew.",
	      pcp_server_epoch(met.srv, cgn_clock_ms()));
}

/* The shared table, the control rings, punted PCP and next-hop resolution. */
static void
table_section(struct page *pg)
{
	const struct cgn_dataplane *dp = met.dp;
	const struct cgn_table_stats *ts = &dp->table->stats;
	gauge(pg, "cgnat_table_mappings",
	      "Entries in the shared table now: explicit, static, PEER and implicit mappings (sessions).",
	      cgn_table_count(dp->table));
	gauge(pg, "cgnat_table_capacity", "Mappings the shared table holds (dataplane.table_size).", dp->table->capacity);
#define X(field, doc) counter(pg, "cgnat_table_" #field "_total", "Shared table: " doc, LOAD(ts->field));
	CGN_TABLE_COUNTERS(X)
#undef X
	gauge(pg, "cgnat_ring_backlog", "Control messages queued for the workers now.", cgn_dataplane_backlog(dp));
#define X(field, doc) counter(pg, "cgnat_punt_" #field "_total", "Punt: " doc, LOAD(dp->punt_stats.field));
	CGN_PUNT_COUNTERS(X)
#undef X
	const struct cgn_routes *rt = &dp->routes;
#define X(member, name, doc) counter(pg, "cgnat_nh_" #name "_total", "Next hops: " doc, LOAD(rt->stats.member));
	CGN_ROUTE_COUNTERS(X)
#undef X
	uint64_t resolved = 0;
	for (uint32_t i = 0; i < rt->capacity; i++)
		resolved += LOAD(rt->neigh[i].in_use) && (LOAD(rt->neigh[i].mac) & CGN_NEIGH_VALID);
	gauge(pg, "cgnat_neighbours_learned", "Learned (directly connected) neighbour entries now.", LOAD(rt->n_learned));
	gauge(pg, "cgnat_neighbours_resolved", "Neighbour entries with a MAC now (cgnatctl neighbours).", resolved);
}

/* The workers' counters, each worker labelled: loops, packets, drops and their breakdowns. */
static void
worker_section(struct page *pg)
{
	const struct cgn_dataplane *dp = met.dp;
	char w[16];
	gauge(pg, "cgnat_workers", "Worker lcores.", dp->n_workers);
#define X(field, doc) per_worker(pg, "cgnat_worker_" #field "_total", "Worker: " doc, offsetof(struct cgn_worker, stats.field));
	CGN_WORKER_COUNTERS(X)
#undef X
#define X(field, doc) per_worker(pg, "cgnat_pkt_" #field "_total", "Packets: " doc, offsetof(struct cgn_worker, pkt.field));
	CGN_PKT_COUNTERS(X)
#undef X
	family(pg, "cgnat_packets_dropped_total", "counter", drop_help);
	for (int r = 0; r < CGN_DROP_COUNT; r++)
		for (unsigned i = 0; i < dp->n_workers; i++) {
			snprintf(w, sizeof(w), "%u", i);
			sample(pg, "cgnat_packets_dropped_total", LOAD(dp->workers[i].pkt.drops[r]), "reason",
			       cgn_drop_name((enum cgn_drop_reason)r), "worker", w, NULL);
		}
	family(pg, "cgnat_nd_refused_total", "counter", nd_help);
	for (int r = 1; r < CGN_ND_RESULT_COUNT; r++)
		for (unsigned i = 0; i < dp->n_workers; i++) {
			snprintf(w, sizeof(w), "%u", i);
			sample(pg, "cgnat_nd_refused_total", LOAD(dp->workers[i].pkt.nd_refused[r]), "reason",
			       cgn_nd_result_name((enum cgn_nd_result)r), "worker", w, NULL);
		}
	family(pg, "cgnat_nat64_icmp_errors_dropped_total", "counter", nat64_error_help);
	for (int r = 1; r < CGN_XLAT_ERR_COUNT; r++)
		for (unsigned i = 0; i < dp->n_workers; i++) {
			snprintf(w, sizeof(w), "%u", i);
			sample(pg, "cgnat_nat64_icmp_errors_dropped_total", LOAD(dp->workers[i].pkt.nat64_error[r]),
			       "reason", cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)r), "worker", w, NULL);
		}
}

/* The DPDK ports: NIC counters and link state, labelled port (index), device and role. */
static void
port_section(struct page *pg)
{
	const struct cgn_dataplane *dp = met.dp;
	struct rte_eth_stats es[CGN_MAX_PORTS];
	struct rte_eth_link link[CGN_MAX_PORTS];
	bool have_es[CGN_MAX_PORTS], have_link[CGN_MAX_PORTS];
	char idx[CGN_MAX_PORTS][8];
	const char *dev[CGN_MAX_PORTS], *role[CGN_MAX_PORTS];
	unsigned n = dp->n_ports < CGN_MAX_PORTS ? dp->n_ports : CGN_MAX_PORTS;
	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		have_es[i] = rte_eth_stats_get(dp->ports[i].port_id, &es[i]) == 0;
		have_link[i] = rte_eth_link_get_nowait(dp->ports[i].port_id, &link[i]) == 0;
		snprintf(idx[i], sizeof(idx[i]), "%u", i);
		dev[i] = i < met.cfg->n_ports ? met.cfg->ports[i].name : "?";
		role[i] = dp->ports[i].role == CGN_PORT_INSIDE ? "inside" : "outside";
	}
#define PORT_LABELS(i) "port", idx[i], "device", dev[i], "role", role[i]
	family(pg, "cgnat_port_packets_total", "counter", "Packets a port received (rx) and sent (tx), by the NIC's count.");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i]) {
			sample(pg, "cgnat_port_packets_total", es[i].ipackets, PORT_LABELS(i), "direction", "rx", NULL);
			sample(pg, "cgnat_port_packets_total", es[i].opackets, PORT_LABELS(i), "direction", "tx", NULL);
		}
	family(pg, "cgnat_port_bytes_total", "counter", "Octets a port received (rx) and sent (tx).");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i]) {
			sample(pg, "cgnat_port_bytes_total", es[i].ibytes, PORT_LABELS(i), "direction", "rx", NULL);
			sample(pg, "cgnat_port_bytes_total", es[i].obytes, PORT_LABELS(i), "direction", "tx", NULL);
		}
	family(pg, "cgnat_port_rx_missed_total", "counter",
	       "Packets the NIC dropped for lack of RX descriptors (imissed): the workers are too slow or too few.");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i])
			sample(pg, "cgnat_port_rx_missed_total", es[i].imissed, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_rx_errors_total", "counter", "Erroneous packets the NIC received (ierrors).");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i])
			sample(pg, "cgnat_port_rx_errors_total", es[i].ierrors, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_rx_nombuf_total", "counter", "RX buffer allocations that failed (rx_nombuf).");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i])
			sample(pg, "cgnat_port_rx_nombuf_total", es[i].rx_nombuf, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_tx_errors_total", "counter", "Packets the NIC failed to send (oerrors).");
	for (unsigned i = 0; i < n; i++)
		if (have_es[i])
			sample(pg, "cgnat_port_tx_errors_total", es[i].oerrors, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_mtu_bytes", "gauge",
	       "The largest IPv4 packet a port sends: bigger ones leave in fragments (cgnat_pkt_fragmented_total).");
	for (unsigned i = 0; i < n; i++)
		sample(pg, "cgnat_port_mtu_bytes", dp->ports[i].mtu, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_link_up", "gauge", "1 if a port's link is up, else 0.");
	for (unsigned i = 0; i < n; i++)
		if (have_link[i])
			sample(pg, "cgnat_port_link_up", link[i].link_status, PORT_LABELS(i), NULL);
	family(pg, "cgnat_port_link_speed_bytes", "gauge", "A port's link speed in octets per second (0: unknown).");
	for (unsigned i = 0; i < n; i++)
		if (have_link[i])
			sample(pg, "cgnat_port_link_speed_bytes",
			       link[i].link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : (uint64_t)link[i].link_speed * 125000,
			       PORT_LABELS(i), NULL);
#undef PORT_LABELS
}

/* The port-block allocator: pool and block use, subscribers, ports held. Reads as telemetry's
 * /cgnat/pool and /cgnat/info do; costs one pass over the pool addresses and one over the
 * subscribers there are. */
static void
pool_section(struct page *pg)
{
	const struct cgn_pb *pb = pcp_server_pb(met.srv);
	uint64_t used = 0, ports = 0;
	for (uint32_t i = 0; i < pb->p.n_addrs; i++)
		used += __atomic_load_n(&pb->addr_blocks[i], __ATOMIC_SEQ_CST);
	uint32_t n_subs = __atomic_load_n(&pb->n_subs, __ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < n_subs && i < pb->p.max_subscribers; i++)
		ports += __atomic_load_n(&cgn_pb_sub(pb, i)->ports_used, __ATOMIC_SEQ_CST);
	gauge(pg, "cgnat_pool_addresses", "External IPv4 addresses in nat.pool.", pb->p.n_addrs);
	gauge(pg, "cgnat_pool_blocks", "Port blocks in the pool: addresses times blocks per address.",
	      (uint64_t)pb->p.n_addrs * pb->blocks_per_addr);
	gauge(pg, "cgnat_pool_blocks_used", "Port blocks held by subscribers now (RFC 6888 REQ-14).", used);
	gauge(pg, "cgnat_pool_block_ports", "Ports in one block (nat.block_size).", pb->p.block_size);
	gauge(pg, "cgnat_subscriber_blocks_max", "Blocks one subscriber may hold (nat.max_blocks): its port quota.",
	      pb->p.max_blocks);
	gauge(pg, "cgnat_subscribers", "Subscribers known to the port-block allocator now.", n_subs);
	gauge(pg, "cgnat_subscribers_max", "Subscribers the allocator holds (nat.max_subscribers).",
	      pb->p.max_subscribers);
	gauge(pg, "cgnat_subscriber_ports_used",
	      "External ports held now, all subscribers, protocols and kinds (sessions and explicit mappings).", ports);
}

/* NAT logging (logger.h): the logger's own totals, then each sink's counters labelled
 * sink="NAME". */
static void
log_section(struct page *pg)
{
	struct cgn_logger_totals t;
	cgn_logger_totals(&t);
	counter(pg, "cgnat_log_events_total", "NAT events the logger handed to its destinations (docs/operations.md, "
					      "\"NAT logging\").", t.events);
	counter(pg, "cgnat_log_dropped_total", "NAT events lost because an lcore's event ring was full.", t.dropped);
	counter(pg, "cgnat_log_invalid_total", "NAT events the logger refused (a kind or field out of range).",
		t.invalid);
	const struct cgn_log_sink *sinks[CGN_LOGGER_MAX_SINKS];
	unsigned n = cgn_logger_sinks(sinks, CGN_LOGGER_MAX_SINKS);
#define X(field, doc)                                                                                      \
	if (n > 0) {                                                                                       \
		family(pg, "cgnat_log_sink_" #field "_total", "counter", "NAT log destination: " doc ".");  \
		for (unsigned i = 0; i < n; i++)                                                           \
			sample(pg, "cgnat_log_sink_" #field "_total", LOAD(sinks[i]->stats.field), "sink",  \
			       sinks[i]->name, NULL);                                                      \
	}
	CGN_SINK_COUNTERS(X)
#undef X
}

static void
build_page(struct page *pg)
{
	family(pg, "cgnat_info", "gauge", "Always 1; the version running as a label.");
	sample(pg, "cgnat_info", 1, "version", CGN_VERSION, NULL);
	gauge(pg, "cgnat_start_time_seconds", "When the metrics listener started (about when cgnatd did), Unix time.",
	      met.start_s);
	pcp_section(pg);
	table_section(pg);
	pool_section(pg);
	worker_section(pg);
	port_section(pg);
	log_section(pg);
}

/* ---- HTTP ---- */

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned status, const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Every request, on libmicrohttpd's thread: GET (or HEAD) /metrics builds the page; another
 * path is 404, another method 405. A request body is never read. */
static enum MHD_Result
answer(void *cls __rte_unused, struct MHD_Connection *c, const char *url, const char *method,
       const char *version __rte_unused, const char *upload_data __rte_unused, size_t *upload_data_size __rte_unused,
       void **req_cls __rte_unused)
{
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: the page is /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET /metrics\n", "GET, HEAD");

	const char *why;
	if (!cgn_telemetry_read_begin(&why)) { /* reloading, or shutting down */
		char text[64];
		snprintf(text, sizeof(text), "unavailable: %s\n", why);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, NULL);
	}
	struct page pg = { .cap = met.last_len > PAGE_FIRST ? met.last_len + met.last_len / 4 : PAGE_FIRST };
	if (pg.cap > CGN_METRICS_PAGE_MAX)
		pg.cap = CGN_METRICS_PAGE_MAX;
	pg.buf = malloc(pg.cap);
	if (pg.buf == NULL) {
		cgn_telemetry_read_end();
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	pg.buf[0] = '\0';
	build_page(&pg);
	cgn_telemetry_read_end();

	if (pg.too_big) {
		free(pg.buf);
		if (!met.too_big_said) {
			met.too_big_said = true;
			fprintf(stderr, "cgnatd: metrics: the page passes %u octets (or memory ran short): answered 500\n",
				CGN_METRICS_PAGE_MAX);
		}
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the page is too big\n", NULL);
	}
	met.last_len = pg.len;
	struct MHD_Response *r = MHD_create_response_from_buffer(pg.len, pg.buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(pg.buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

/* "127.0.0.1:9464", "[::1]:9464" */
static const char *
listen_text(const struct cgn_listen *l, char *buf, size_t size)
{
	char a[CGN_ADDR_STRLEN];
	snprintf(buf, size, cgn_addr_is_v4(&l->addr) ? "%s:%u" : "[%s]:%u", cgn_addr_format(&l->addr, a, sizeof(a)),
		 l->port);
	return buf;
}

/* The listening socket, bound to l alone (an IPv6 one to IPv6 only). @return it, or a
 * negative errno with err set. */
static int
listen_on(const struct cgn_listen *l, char *err, size_t err_len)
{
	char text[CGN_ADDR_STRLEN + 16];
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	bool v4 = cgn_addr_is_v4(&l->addr);
	if (v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		sin->sin_addr.s_addr = cgn_addr_v4(&l->addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		memcpy(&sin6->sin6_addr, l->addr.b, 16);
		len = sizeof(*sin6);
	}
	const char *step = "socket";
	int one = 1, fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (!v4 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
		goto fail;
	step = "bind";
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	step = "listen";
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:;
	int rc = -errno;
	snprintf(err, err_len, "metrics.listen %s: cannot %s: %s", listen_text(l, text, sizeof(text)), step,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

int
cgn_metrics_start(const struct cgn_config *cfg, struct pcp_server *srv, struct cgn_dataplane *dp, char *err,
		  size_t err_len)
{
	if (!cfg->metrics.on)
		return 0;
	met.cfg = cfg;
	met.srv = srv;
	met.dp = dp;
	met.start_s = (uint64_t)time(NULL);
	int fd = listen_on(&cfg->metrics.listen, err, err_len);
	if (fd < 0)
		return fd;
	/* The thread inherits the main lcore's signal mask (the control loop reads the signals)
	 * and CPU set: it never runs on a worker's core. Its socket is closed by
	 * MHD_stop_daemon(); if the start fails, it is left to the exit that follows (libmicrohttpd
	 * may have closed it already). */
	met.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				   answer, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				   (unsigned)CGN_METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
				   (unsigned)CGN_METRICS_TIMEOUT_S, MHD_OPTION_END);
	if (met.mhd == NULL) {
		char text[CGN_ADDR_STRLEN + 16];
		snprintf(err, err_len, "metrics.listen %s: libmicrohttpd did not start (see above)",
			 listen_text(&cfg->metrics.listen, text, sizeof(text)));
		return -EIO;
	}
	return 0;
}

void
cgn_metrics_stop(void)
{
	if (met.mhd != NULL)
		MHD_stop_daemon(met.mhd);
	met.mhd = NULL;
}
