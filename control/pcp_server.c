/*
 * The PCP server's request driver (RFC 6887 §8.2) and mapping lifetime bookkeeping. It reads
 * like §8.2: interface check, header checks, address check, opcode and options, then either a
 * success response or an error response built from a copy of the request. The opcodes live in
 * pcp_map.c and pcp_announce.c.
 */
#include "pcp_server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	size_t pool_size = cgn_pool_mem_size(cfg);
	srv->pool_mem = aligned_alloc(64, (pool_size + 63) & ~(size_t)63);
	srv->db = mapping_db_create("pcp_mappings", cfg->dataplane.table_size);
	if (srv->pool_mem == NULL || srv->db == NULL ||
	    cgn_pool_init(&srv->pool, cfg, srv->pool_mem, pool_size) != 0) {
		pcp_server_free(srv);
		errno = ENOMEM;
		return NULL;
	}
	return srv;
}

void
pcp_server_free(struct pcp_server *srv)
{
	if (srv == NULL)
		return;
	mapping_db_free(srv->db);
	free(srv->pool_mem);
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

const struct cgn_pool *
pcp_server_pool(const struct pcp_server *srv)
{
	return &srv->pool;
}

uint32_t
pcp_server_mapping_count(const struct pcp_server *srv)
{
	return mapping_db_count(srv->db);
}

/* §7.4: the lifetime of an error response, from its class. */
static uint32_t
error_lifetime(const struct pcp_server *srv, uint8_t result)
{
	switch (pcp_result_class(result)) {
	case PCP_LT_SHORT:
		return srv->cfg.pcp.short_error_lifetime;
	case PCP_LT_LONG:
		return srv->cfg.pcp.long_error_lifetime;
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
	srv->stats.received++;

	/* §8.2 ¶2: only requests from the inside (or from authorised third parties). */
	if (!cgn_prefix_list_contains(srv->cfg.pcp.inside, srv->cfg.pcp.n_inside, src) &&
	    !cgn_prefix_list_contains(srv->cfg.pcp.third_party, srv->cfg.pcp.n_third_party, src))
		return drop(srv, PCP_DROP_NOT_INSIDE);

	switch (pcp_parse_request_header(msg, len, &ctx->req, &result)) {
	case PCP_VERDICT_DROP:
		return drop(srv, len >= 2 && (msg[1] & PCP_R_BIT) ? PCP_DROP_R_BIT : PCP_DROP_TOO_SHORT);
	case PCP_VERDICT_NATPMP:
		/* No NAT-PMP handler yet: RFC 6887 Appendix A, a PCP-only server answers
		 * UNSUPP_VERSION, which NAT-PMP clients understand. */
		return answer_error(ctx, PCP_RES_UNSUPP_VERSION, false, out);
	case PCP_VERDICT_ERROR:
		srv->stats.by_opcode[ctx->req.opcode < PCP_OP_COUNT ? ctx->req.opcode : PCP_OP_COUNT]++;
		return answer_error(ctx, result, false, out);
	case PCP_VERDICT_OK:
		break;
	}
	srv->stats.by_opcode[ctx->req.opcode]++;

	/* §8.2 last paragraph: an unexpected NAT between client and server. */
	if (!cgn_addr_eq(&ctx->req.client_addr, src))
		return answer_error(ctx, PCP_RES_ADDRESS_MISMATCH, true, out);

	if (pcp_parse_request_body(msg, len, &ctx->req, &result) != PCP_VERDICT_OK)
		return answer_error(ctx, result, false, out);

	memset(&ctx->resp, 0, offsetof(struct pcp_response, options));
	ctx->resp.opcode = ctx->req.opcode;
	ctx->resp.n_options = 0;

	switch (ctx->req.opcode) {
	case PCP_OP_ANNOUNCE:
		result = pcp_announce_handle(ctx);
		break;
	case PCP_OP_MAP:
		result = pcp_map_handle(ctx);
		break;
	default:
		/* PEER comes with the full server; AUTHENTICATION (RFC 7652) is not offered. */
		result = PCP_RES_UNSUPP_OPCODE;
		break;
	}
	if (result != PCP_RES_SUCCESS)
		return answer_error(ctx, result, true, out);

	ctx->resp.result = PCP_RES_SUCCESS;
	ctx->resp.epoch = pcp_server_epoch(srv, now_ms);
	ssize_t n = pcp_build_response(&ctx->resp, out, PCP_MAX_MSG);
	if (n < 0) /* §7.3: a response that would exceed 1100 octets */
		return answer_error(ctx, PCP_RES_MALFORMED_REQUEST, true, out);
	count_result(srv, PCP_RES_SUCCESS);
	return (size_t)n;
}

int
pcp_server_push(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec)
{
	struct cgn_ring_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.op = op;
	msg.m.in = rec->in;
	msg.m.out = cgn_key_make(&(struct cgn_addr){ 0 }, rec->ext_port, rec->in.proto, CGN_SIDE_OUTSIDE);
	msg.m.out.addr = cgn_addr_from_v4(rec->ext_addr);
	msg.m.expire_ms = rec->expire_ms;
	msg.m.lifetime_s = rec->lifetime_s;
	msg.m.flags = rec->flags;
	msg.m.created_ms = rec->created_ms;
	memcpy(msg.m.nonce, rec->nonce, sizeof(msg.m.nonce));

	if (srv->ops.push(srv->ops.ctx, &msg) != 0) {
		srv->stats.push_refused++;
		return -ENOBUFS;
	}
	return 0;
}

void
pcp_server_forget(struct pcp_server *srv, struct pcp_mapping_rec *rec)
{
	cgn_pool_release(&srv->pool, rec->ext_addr, rec->in.proto, rec->ext_port);
	mapping_db_del(srv->db, rec);
}

struct expire_arg {
	struct pcp_server *srv;
	uint64_t now_ms;
};

static void
expire_one(struct pcp_mapping_rec *rec, void *arg)
{
	struct expire_arg *a = arg;
	if (rec->expire_ms > a->now_ms)
		return;
	/* If the ring is full the record stays and the next sweep tries again. */
	if (pcp_server_push(a->srv, CGN_MSG_DEL, rec) != 0)
		return;
	pcp_server_forget(a->srv, rec);
	a->srv->stats.mappings_expired++;
}

void
pcp_server_expire(struct pcp_server *srv, uint64_t now_ms)
{
	struct expire_arg a = { srv, now_ms };
	uint32_t budget = mapping_db_capacity(srv->db) / 50 + 64;
	mapping_db_scan(srv->db, &srv->expire_cursor, budget, expire_one, &a);
}
