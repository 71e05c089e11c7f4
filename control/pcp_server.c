/*
 * The PCP server's request driver (RFC 6887 §8.2), timers and unsolicited messages (§14.1.3).
 * pcp_server_handle() reads like §8.2: interface check, overload, header checks, address
 * check, opcode and options, then a success response or an error response built from a copy
 * of the request. Opcodes live in pcp_map.c, pcp_peer.c, pcp_announce.c, NAT-PMP in natpmp.c,
 * and the mapping lifecycle they share in mappings.c.
 */
#include "pcp_server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_log.h"

static const char *const drop_names[PCP_DROP_COUNT] = {
#define X(name, doc) [PCP_DROP_##name] = #name,
	PCP_DROP_REASONS(X)
#undef X
};

const char *
pcp_drop_reason_name(enum pcp_drop_reason r)
{
	return r < PCP_DROP_COUNT ? drop_names[r] : "?";
}

/* Every pool address of the configuration, in order, network byte order. */
static uint32_t *
pool_addresses(const struct cgn_config *cfg, uint32_t *n)
{
	*n = cgn_config_pool_size(cfg);
	uint32_t *a = calloc(*n, sizeof(*a));
	if (a == NULL)
		return NULL;
	uint32_t k = 0;
	for (unsigned i = 0; i < cfg->nat.n_pool; i++) {
		uint32_t base = ntohl(cgn_addr_v4(&cfg->nat.pool[i].addr));
		for (uint32_t j = 0; j < 1u << (128 - cfg->nat.pool[i].len); j++)
			a[k++] = htonl(base + j);
	}
	return a;
}

int
pcp_server_make_pb(const struct cgn_config *cfg, struct cgn_pb *pb, void **mem)
{
	uint32_t n_addrs;
	uint32_t *addrs = pool_addresses(cfg, &n_addrs);
	if (addrs == NULL)
		return -ENOMEM;
	struct cgn_pb_params pp = {
		.addrs = addrs, .n_addrs = n_addrs, .port_min = cfg->nat.port_min, .port_max = cfg->nat.port_max,
		.block_size = cfg->nat.block_size, .max_blocks = cfg->nat.max_blocks,
		.max_subscribers = cfg->nat.max_subscribers, .parity = cfg->nat.parity,
	};
	size_t size = cgn_pb_mem_size(&pp);
	/* Zeroed, and left untouched until used: jemalloc serves this size with fresh pages. */
	*mem = size ? calloc(1, size) : NULL;
	int rc = *mem ? cgn_pb_init(pb, &pp, *mem, size) : -EINVAL;
	if (rc != 0) {
		free(*mem);
		*mem = NULL;
	}
	free(addrs);
	return rc;
}

struct pcp_server *
pcp_server_create(const struct cgn_config *cfg, const struct pcp_server_ops *ops, uint64_t now_ms)
{
	struct pcp_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->cfg = *cfg;
	srv->ops = *ops;
	srv->epoch_start_ms = now_ms;
	srv->rng = now_ms ^ (uint64_t)(uintptr_t)srv ^ 0x2545f4914f6cdd1dull;
	cgn_tb_init(&srv->requests, cfg->pcp.max_requests_per_second, now_ms);

	if (pcp_server_make_pb(cfg, &srv->pb, &srv->pb_mem) != 0) {
		CGN_LOG(ERR, "nat.block_size %u, nat.max_blocks %u and nat.ports %u-%u do not make a port "
			     "block allocator, or memory is short", cfg->nat.block_size, cfg->nat.max_blocks,
			cfg->nat.port_min, cfg->nat.port_max);
		free(srv);
		errno = EINVAL;
		return NULL;
	}
	uint32_t cap = cfg->dataplane.table_size;
	srv->mappings = rec_db_create("pcp_mappings", cap, sizeof(struct cgn_key), sizeof(struct pcp_mapping_rec));
	srv->peers = rec_db_create("pcp_peers", cap, sizeof(struct peer_key), sizeof(struct pcp_peer_rec));
	srv->holds = rec_db_create("pcp_holds", cap, sizeof(struct cgn_key), sizeof(struct hold_rec));
	srv->descriptions = pcp_desc_index_create(cap, sizeof(struct cgn_key));
	srv->unsol = calloc(PCP_MAX_UNSOLICITED, sizeof(*srv->unsol));
	if (srv->mappings == NULL || srv->peers == NULL || srv->holds == NULL || srv->descriptions == NULL ||
	    srv->unsol == NULL) {
		pcp_server_free(srv);
		errno = ENOMEM;
		return NULL;
	}
	int rc = pcp_store_open(srv);
	if (rc != 0) {
		pcp_server_free(srv);
		errno = -rc;
		return NULL;
	}
	return srv;
}

/* The records' own memory: their DESCRIPTION text. */
void
pcp_server_free(struct pcp_server *srv)
{
	if (srv == NULL)
		return;
	pcp_store_close(srv); /* commits what is pending */
	pcp_description_free_all(srv); /* the records' texts (RFC 7220), before their tables */
	rec_db_free(srv->mappings);
	rec_db_free(srv->peers);
	rec_db_free(srv->holds);
	free(srv->unsol);
	free(srv->pb_mem);
	free(srv);
}

uint32_t
pcp_server_epoch(const struct pcp_server *srv, uint64_t now_ms)
{
	return (uint32_t)((now_ms - srv->epoch_start_ms) / 1000);
}

const struct pcp_server_stats *
pcp_server_stats(const struct pcp_server *srv)
{
	return &srv->stats;
}

const struct cgn_config *
pcp_server_config(const struct pcp_server *srv)
{
	return &srv->cfg;
}

struct cgn_pb *
pcp_server_pb(struct pcp_server *srv)
{
	return &srv->pb;
}

void
pcp_server_freeze_pool(struct pcp_server *srv)
{
	srv->pool_frozen = true;
}

uint32_t
pcp_server_mapping_count(const struct pcp_server *srv)
{
	return rec_db_count(srv->mappings);
}

uint32_t
pcp_server_session_count(const struct pcp_server *srv)
{
	return rec_db_count(srv->peers);
}

uint32_t
pcp_server_hold_count(const struct pcp_server *srv)
{
	return rec_db_count(srv->holds);
}

/* ---- unsolicited messages (§14.1.3, §14.2) -------------------------------------------------- */

void
pcp_unsolicited_add(struct pcp_server *srv, uint64_t now, const struct cgn_addr *dst, uint16_t port,
		    const uint8_t *msg, size_t len, uint8_t sends, uint32_t first_gap_ms, const struct cgn_key *about)
{
	if (srv->n_unsol >= PCP_MAX_UNSOLICITED || len > PCP_MAX_MSG || srv->ops.send == NULL) {
		srv->stats.unsolicited_failed++;
		return;
	}
	struct unsolicited *u = &srv->unsol[srv->n_unsol++];
	memset(&u->about, 0, sizeof(u->about));
	if (about)
		u->about = *about;
	else
		u->about.side = 0xff;
	u->dst = *dst;
	u->dst_port = port;
	u->sends_left = sends;
	u->interval_ms = first_gap_ms;
	u->next_ms = now;
	u->len = (uint16_t)len;
	memcpy(u->msg, msg, len);
}

void
pcp_unsolicited_cancel(struct pcp_server *srv, const struct cgn_key *about)
{
	struct cgn_key announces; /* NULL: the ANNOUNCEs, about no mapping (pcp_unsolicited_add) */
	if (about == NULL) {
		memset(&announces, 0, sizeof(announces));
		announces.side = 0xff;
		about = &announces;
	}
	for (unsigned i = 0; i < srv->n_unsol;) {
		if (memcmp(&srv->unsol[i].about, about, sizeof(*about)) == 0)
			srv->unsol[i] = srv->unsol[--srv->n_unsol];
		else
			i++;
	}
}

static void
unsolicited_run(struct pcp_server *srv, uint64_t now)
{
	uint32_t epoch = pcp_server_epoch(srv, now);
	for (unsigned i = 0; i < srv->n_unsol;) {
		struct unsolicited *u = &srv->unsol[i];
		if (u->next_ms > now) {
			i++;
			continue;
		}
		/* The Epoch Time of each send is the current one (§8.5). */
		u->msg[8] = (uint8_t)(epoch >> 24);
		u->msg[9] = (uint8_t)(epoch >> 16);
		u->msg[10] = (uint8_t)(epoch >> 8);
		u->msg[11] = (uint8_t)epoch;
		if (srv->ops.send(srv->ops.ctx, &u->dst, u->dst_port, u->msg, u->len) == 0)
			srv->stats.unsolicited_sent++;
		else
			srv->stats.unsolicited_failed++;
		if (--u->sends_left == 0) {
			srv->unsol[i] = srv->unsol[--srv->n_unsol];
			continue;
		}
		u->next_ms = now + u->interval_ms;
		u->interval_ms *= 2;
		i++;
	}
}

/* Does the server accept PCP requests over IPv4 (v4) or IPv6: on a listen address of that
 * family, or on an inside DPDK port with an address of it (punted, dataplane/punt.c)? */
static bool
serves_family(const struct cgn_config *cfg, bool v4)
{
	for (unsigned i = 0; i < cfg->pcp.n_listen; i++)
		if (cgn_addr_is_v4(&cfg->pcp.listen[i].addr) == v4)
			return true;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].role == CGN_PORT_INSIDE && (v4 ? cfg->ports[i].address != 0 : cfg->ports[i].have_address6))
			return true;
	return false;
}

/* §14.1.3: after a restart, an unsolicited ANNOUNCE to every client we know of, "up to ten
 * times" at intervals doubling from 250 ms; by multicast, "a PCP server device that accepts
 * PCP requests over IPv4 sends the Restart Announcement to the IPv4 multicast address
 * 224.0.0.1:5350 ... and a PCP server device that accepts PCP requests over IPv6 sends the
 * Restart Announcement to the IPv6 multicast address [ff02::1]:5350" (both when it accepts
 * both), and by unicast to the configured clients, of either family. */
static void
announce_restart(struct pcp_server *srv, uint64_t now)
{
	static struct pcp_response a;
	static uint8_t p64[PCP_MAX_MSG];
	uint8_t msg[PCP_MAX_MSG];
	memset(&a, 0, sizeof(a));
	a.opcode = PCP_OP_ANNOUNCE;
	/* RFC 7225 §4.2: ANNOUNCEs may carry the Pref64s (none without NAT64); they fit. */
	pcp_prefix64_append(&srv->cfg, &a, p64, sizeof(p64));
	ssize_t len = pcp_build_response(&a, msg, sizeof(msg));
	if (len < 0)
		return;
	if (srv->cfg.pcp.announce_multicast && serves_family(&srv->cfg, true)) {
		struct cgn_addr all_hosts;
		cgn_addr_parse("224.0.0.1", &all_hosts);
		pcp_unsolicited_add(srv, now, &all_hosts, PCP_CLIENT_PORT, msg, (size_t)len, 10, 250, NULL);
	}
	if (srv->cfg.pcp.announce_multicast && serves_family(&srv->cfg, false)) {
		struct cgn_addr all_nodes;
		cgn_addr_parse("ff02::1", &all_nodes);
		pcp_unsolicited_add(srv, now, &all_nodes, PCP_CLIENT_PORT, msg, (size_t)len, 10, 250, NULL);
	}
	for (unsigned i = 0; i < srv->cfg.pcp.n_announce; i++)
		pcp_unsolicited_add(srv, now, &srv->cfg.pcp.announce[i].addr, srv->cfg.pcp.announce[i].port, msg,
				    (size_t)len, 10, 250, NULL);
}

void
pcp_announce_all(struct pcp_server *srv, uint64_t now)
{
	/* The ANNOUNCEs still queued carry the old Pref64s, which a client would take back
	 * (RFC 7225 §4.3: it replaces its prefixes with every unsolicited ANNOUNCE's): they go. */
	pcp_unsolicited_cancel(srv, NULL);
	announce_restart(srv, now);
	unsolicited_run(srv, now);
}

int
pcp_server_start(struct pcp_server *srv, uint64_t now_ms)
{
	/* Statics first: they come from the configuration and win over a stored mapping of the
	 * same key or external endpoint (that one moves, §14.2). */
	int rc = mapping_install_statics(srv, now_ms);
	if (rc != 0)
		return rc;
	if ((rc = pcp_store_restore(srv, now_ms)) != 0)
		return rc;
	announce_restart(srv, now_ms);
	unsolicited_run(srv, now_ms);
	return 0;
}

void
pcp_server_tick(struct pcp_server *srv, uint64_t now_ms)
{
	pcp_store_clock(srv);
	mapping_expire(srv, now_ms);
	pcp_server_flush(srv); /* before a Mapping Update of what changed leaves */
	unsolicited_run(srv, now_ms);
}

/* ---- requests ------------------------------------------------------------------------------- */

/* §7.4: the lifetime of an error response, from its class. */
static uint32_t
error_lifetime(const struct pcp_server *srv, uint8_t result)
{
	switch (pcp_result_class(result)) {
	case PCP_LT_LONG:
		return srv->cfg.pcp.long_error_lifetime;
	case PCP_LT_SHORT:
	default:
		/* CANNOT_PROVIDE_EXTERNAL "depends on the reason": a port may free up soon. */
		return srv->cfg.pcp.short_error_lifetime;
	}
}

static void
count_result(struct pcp_server *srv, uint8_t result)
{
	srv->stats.by_result[result < PCP_RES_COUNT ? result : PCP_RES_COUNT]++;
}

static size_t
drop(struct pcp_server *srv, enum pcp_drop_reason why)
{
	srv->stats.dropped[why]++;
	return 0;
}

static size_t
answer_error(struct pcp_ctx *ctx, uint8_t result, bool parsed, uint8_t *out)
{
	uint32_t lifetime = ctx->error_lifetime ? ctx->error_lifetime : error_lifetime(ctx->srv, result);
	count_result(ctx->srv, result);
	return pcp_build_error(ctx->msg, ctx->len, result, lifetime,
			       pcp_server_epoch(ctx->srv, ctx->now_ms), parsed, out);
}

/* §8.2: "If the server is overloaded by requests ... it MAY generate the NO_RESOURCES error
 * response". A token bucket of max_requests_per_second with a one-second burst
 * (common/cgn_token_bucket.h); 0 is no limit. */
static bool
overloaded(struct pcp_server *srv, uint64_t now)
{
	uint32_t rate = srv->cfg.pcp.max_requests_per_second;
	if (rate == 0 || cgn_tb_take(&srv->requests, rate, now))
		return false;
	srv->stats.overload++;
	return true;
}

size_t
pcp_server_handle(struct pcp_server *srv, uint64_t now_ms, const uint8_t *msg, size_t len,
		  const struct cgn_addr *src, uint16_t src_port, uint8_t *out)
{
	/* The context holds a request and a response of up to 269 options each: keep it off
	 * the stack of the event loop and reuse it. Control thread only, so one is enough. */
	static struct pcp_ctx ctx_storage;
	struct pcp_ctx *ctx = &ctx_storage;
	uint8_t result = PCP_RES_SUCCESS;

	ctx->srv = srv;
	ctx->now_ms = now_ms;
	ctx->msg = msg;
	ctx->len = len;
	ctx->src = *src;
	ctx->src_port = src_port;
	ctx->error_lifetime = 0;
	ctx->store_keep = false;
	srv->stats.received++;

	/* §8.2 ¶2: only requests from the inside (or from authorised third parties). */
	if (!cgn_prefix_list_contains(srv->cfg.pcp.inside, srv->cfg.pcp.n_inside, src) &&
	    !cgn_prefix_list_contains(srv->cfg.pcp.third_party, srv->cfg.pcp.n_third_party, src))
		return drop(srv, PCP_DROP_NOT_INSIDE);

	/* NAT-PMP is IPv4 only: its messages carry 32-bit addresses, and "PCP also adds
	 * significant enhancements, including IPv6 support" (RFC 6886 §1.1). Version 0 from an
	 * IPv6 client gets what a PCP-only server answers, UNSUPP_VERSION (RFC 6887 App. A). */
	if (len >= 1 && msg[0] == PCP_VERSION_NATPMP && srv->cfg.pcp.natpmp && cgn_addr_is_v4(src)) {
		srv->store_in_request = true;
		size_t n = natpmp_handle(srv, now_ms, msg, len, src, src_port, out);
		srv->store_in_request = false;
		return n;
	}

	switch (pcp_parse_request_header(msg, len, &ctx->req, &result)) {
	case PCP_VERDICT_DROP:
		return drop(srv, len >= 2 && (msg[1] & PCP_R_BIT) ? PCP_DROP_R_BIT : PCP_DROP_TOO_SHORT);
	case PCP_VERDICT_NATPMP:
		/* NAT-PMP switched off: RFC 6887 Appendix A, a PCP-only server answers
		 * UNSUPP_VERSION, which NAT-PMP clients understand. */
		return answer_error(ctx, PCP_RES_UNSUPP_VERSION, false, out);
	case PCP_VERDICT_ERROR:
		srv->stats.by_opcode[ctx->req.opcode < PCP_OP_COUNT ? ctx->req.opcode : PCP_OP_COUNT]++;
		return answer_error(ctx, result, false, out);
	case PCP_VERDICT_OK:
		break;
	}
	srv->stats.by_opcode[ctx->req.opcode]++;

	if (overloaded(srv, now_ms))
		return answer_error(ctx, PCP_RES_NO_RESOURCES, false, out);

	/* §8.2 last paragraph: an unexpected NAT between client and server. All 128 bits: an
	 * IPv6 client's address, or the IPv4-mapped form of an IPv4 client's. */
	if (!cgn_addr_eq(&ctx->req.client_addr, src))
		return answer_error(ctx, PCP_RES_ADDRESS_MISMATCH, true, out);

	if (pcp_parse_request_body(msg, len, &ctx->req, &result) != PCP_VERDICT_OK)
		return answer_error(ctx, result, false, out);

	memset(&ctx->resp, 0, offsetof(struct pcp_response, options));
	ctx->resp.opcode = ctx->req.opcode;
	ctx->resp.n_options = 0;
	/* §7.3: a request that fails leaves no state change, in the store either. */
	size_t store_mark = pcp_store_mark(srv);

	srv->store_in_request = true;
	switch (ctx->req.opcode) {
	case PCP_OP_ANNOUNCE:
		result = pcp_announce_handle(ctx);
		break;
	case PCP_OP_MAP:
		result = srv->cfg.pcp.map ? pcp_map_handle(ctx) : PCP_RES_UNSUPP_OPCODE;
		break;
	case PCP_OP_PEER:
		result = srv->cfg.pcp.peer ? pcp_peer_handle(ctx) : PCP_RES_UNSUPP_OPCODE;
		break;
	default:
		result = PCP_RES_UNSUPP_OPCODE; /* AUTHENTICATION (RFC 7652) is not offered */
		break;
	}
	srv->store_in_request = false;
	if (result != PCP_RES_SUCCESS) {
		/* (Each mapping function takes back its own writes when it fails: this is for a
		 * handler that fails after a change. Not when other mappings changed for good.) */
		if (!ctx->store_keep)
			pcp_store_rollback(srv, store_mark);
		return answer_error(ctx, result, true, out);
	}

	ctx->resp.result = PCP_RES_SUCCESS;
	ctx->resp.epoch = pcp_server_epoch(srv, now_ms);
	ssize_t n = pcp_build_response(&ctx->resp, out, PCP_MAX_MSG);
	if (n < 0) /* §7.3: a response that would exceed 1100 octets */
		return answer_error(ctx, PCP_RES_MALFORMED_REQUEST, true, out);
	count_result(srv, PCP_RES_SUCCESS);
	return (size_t)n;
}
