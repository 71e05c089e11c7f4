/*
 * The MAP opcode (RFC 6887 §11.3, lifetimes §15 with erratum 3621, options §13.1 and §13.2):
 * create, renew and delete explicit dynamic inbound mappings for TCP and UDP.
 *
 * Each request is checked completely before anything changes; the only state changes are the
 * last steps, and a refusal from the data plane undoes them (§7.3).
 */
#include <netinet/in.h>
#include <string.h>

#include "pcp_server_int.h"

/* What the options of one request asked for (§7.3: processed in order). */
struct map_options {
	struct cgn_addr internal;  /* the mapping's internal address */
	bool third_party;
	bool prefer_failure;
};

static uint8_t
process_options(struct pcp_ctx *ctx, struct map_options *mo)
{
	const struct cgn_config *cfg = &ctx->srv->cfg;

	mo->internal = ctx->src;
	for (uint16_t i = 0; i < ctx->req.n_options; i++) {
		const struct pcp_option *opt = &ctx->req.options[i];
		switch (opt->code) {
		case PCP_OPT_THIRD_PARTY:
			/* §13.1: only from authorised hosts, else UNSUPP_OPTION. */
			if (!cgn_prefix_list_contains(cfg->pcp.third_party, cfg->pcp.n_third_party, &ctx->src))
				return PCP_RES_UNSUPP_OPTION;
			pcp_option_third_party(opt, &mo->internal);
			/* §13.1: "MUST NOT contain the same address as the source address". */
			if (cgn_addr_eq(&mo->internal, &ctx->src))
				return PCP_RES_MALFORMED_REQUEST;
			mo->third_party = true;
			break;
		case PCP_OPT_PREFER_FAILURE:
			/* §11.3: "PREFER_FAILURE ... in a request with lifetime=0" makes no sense;
			 * §13.2: a zero suggested port is invalid. */
			if (ctx->req.lifetime == 0 || ctx->req.u.map.external_port == 0)
				return PCP_RES_MALFORMED_OPTION;
			mo->prefer_failure = true;
			break;
		default:
			/* FILTER is refused until the data plane enforces it (it would be a lie to
			 * accept it); THIRD_PARTY_ID and AUTHENTICATION_TAG are not offered. */
			if (pcp_option_is_mandatory(opt->code))
				return PCP_RES_UNSUPP_OPTION;
			continue; /* optional and not processed: not echoed (§7.3) */
		}
		if (pcp_response_add_option(&ctx->resp, opt->code, opt->data, opt->len) != 0)
			return PCP_RES_MALFORMED_REQUEST;
	}

	/* A mapping is only for an inside host: its own, or the third party it names. */
	if (!cgn_prefix_list_contains(cfg->pcp.inside, cfg->pcp.n_inside, &mo->internal))
		return PCP_RES_NOT_AUTHORIZED;
	return PCP_RES_SUCCESS;
}

/* §15: "configurable for permitted minimum and maximum lifetime". */
static uint32_t
clamp_lifetime(const struct cgn_config *cfg, uint32_t requested)
{
	if (requested < cfg->pcp.min_lifetime)
		return cfg->pcp.min_lifetime;
	if (requested > cfg->pcp.max_lifetime)
		return cfg->pcp.max_lifetime;
	return requested;
}

static uint32_t
remaining_s(const struct pcp_mapping_rec *rec, uint64_t now_ms)
{
	if (rec->expire_ms == UINT64_MAX)
		return UINT32_MAX;
	return rec->expire_ms > now_ms ? (uint32_t)((rec->expire_ms - now_ms + 999) / 1000) : 0;
}

/* A suggested external address fits an IPv4 address if it is unspecified or that address. */
static bool
addr_suggestion_fits(const struct cgn_addr *suggested, uint32_t ext_addr)
{
	return cgn_addr_is_unspecified(suggested) ||
	       (cgn_addr_is_v4(suggested) && cgn_addr_v4(suggested) == ext_addr);
}

static void
respond_with(struct pcp_ctx *ctx, const struct pcp_mapping_rec *rec, uint32_t lifetime)
{
	ctx->resp.lifetime = lifetime;
	ctx->resp.u.map.external_port = rec->ext_port;
	ctx->resp.u.map.external_addr = cgn_addr_from_v4(rec->ext_addr);
}

/* §15.1 with erratum 3621. */
static uint8_t
map_delete(struct pcp_ctx *ctx, struct pcp_mapping_rec *rec)
{
	/* "Both the Suggested External Address and Suggested External Port fields are copied
	 * into the assigned external IP address and assigned external port of the response."
	 * Every mapping here has an IPv4 external address, so the family of the all-zeros
	 * address does not narrow the choice. */
	ctx->resp.lifetime = 0;
	if (rec == NULL)
		return PCP_RES_SUCCESS; /* "a mapping that does not exist, the SUCCESS result code" */
	if (rec->flags & (CGN_MAP_STATIC | CGN_MAP_PEER | CGN_MAP_IMPLICIT))
		return PCP_RES_NOT_AUTHORIZED;
	if (memcmp(rec->nonce, ctx->req.u.map.nonce, PCP_NONCE_LEN) != 0) {
		ctx->error_lifetime = remaining_s(rec, ctx->now_ms); /* §11.3 */
		return PCP_RES_NOT_AUTHORIZED;
	}
	if (pcp_server_push(ctx->srv, CGN_MSG_DEL, rec) != 0)
		return PCP_RES_NO_RESOURCES;
	pcp_server_forget(ctx->srv, rec);
	ctx->srv->stats.mappings_deleted++;
	return PCP_RES_SUCCESS;
}

static uint8_t
map_renew(struct pcp_ctx *ctx, const struct map_options *mo, struct pcp_mapping_rec *rec)
{
	const struct pcp_map_data *rq = &ctx->req.u.map;

	if (rec->flags & CGN_MAP_STATIC) {
		respond_with(ctx, rec, UINT32_MAX); /* §11.3 item 2 */
		return PCP_RES_SUCCESS;
	}
	if (memcmp(rec->nonce, rq->nonce, PCP_NONCE_LEN) != 0) {
		ctx->error_lifetime = remaining_s(rec, ctx->now_ms);
		return PCP_RES_NOT_AUTHORIZED;
	}
	/* §11.3 item 1: PREFER_FAILURE and a suggestion that is not the existing mapping. */
	if (mo->prefer_failure &&
	    (rq->external_port != rec->ext_port || !addr_suggestion_fits(&rq->external_addr, rec->ext_addr)))
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;

	struct pcp_mapping_rec old = *rec;
	rec->lifetime_s = clamp_lifetime(&ctx->srv->cfg, ctx->req.lifetime);
	rec->expire_ms = ctx->now_ms + (uint64_t)rec->lifetime_s * 1000;
	if (pcp_server_push(ctx->srv, CGN_MSG_REFRESH, rec) != 0) {
		*rec = old;
		return PCP_RES_NO_RESOURCES;
	}
	ctx->srv->stats.mappings_renewed++;
	respond_with(ctx, rec, rec->lifetime_s);
	return PCP_RES_SUCCESS;
}

static uint8_t
map_create(struct pcp_ctx *ctx, const struct map_options *mo, const struct cgn_key *in)
{
	struct pcp_server *srv = ctx->srv;
	const struct pcp_map_data *rq = &ctx->req.u.map;
	uint32_t paired = cgn_pool_paired_addr(&srv->pool, &mo->internal);
	uint16_t want_port = rq->external_port;
	uint32_t ext_addr;
	uint16_t ext_port;

	/* §11.3: the suggestion is a hint; only PREFER_FAILURE makes it binding. An address
	 * other than the subscriber's paired address cannot be honoured (RFC 6888 REQ-2). */
	if (!addr_suggestion_fits(&rq->external_addr, paired)) {
		if (mo->prefer_failure)
			return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
		want_port = 0;
	}
	int rc = cgn_pool_alloc(&srv->pool, &mo->internal, in->proto, want_port, &srv->rng, &ext_addr,
				&ext_port);
	if (rc != 0)
		return mo->prefer_failure ? PCP_RES_CANNOT_PROVIDE_EXTERNAL : PCP_RES_NO_RESOURCES;
	if (mo->prefer_failure && ext_port != want_port) {
		cgn_pool_release(&srv->pool, ext_addr, in->proto, ext_port);
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	}

	struct pcp_mapping_rec *rec = mapping_db_add(srv->db, in);
	if (rec == NULL) {
		cgn_pool_release(&srv->pool, ext_addr, in->proto, ext_port);
		return PCP_RES_NO_RESOURCES;
	}
	rec->ext_addr = ext_addr;
	rec->ext_port = ext_port;
	rec->flags = CGN_MAP_EXPLICIT | (mo->third_party ? CGN_MAP_THIRD_PARTY : 0) |
		     (mo->prefer_failure ? CGN_MAP_PREFER_FAILURE : 0);
	memcpy(rec->nonce, rq->nonce, PCP_NONCE_LEN);
	rec->lifetime_s = clamp_lifetime(&srv->cfg, ctx->req.lifetime);
	rec->created_ms = ctx->now_ms;
	rec->expire_ms = ctx->now_ms + (uint64_t)rec->lifetime_s * 1000;
	rec->client = ctx->src;
	rec->client_port = ctx->src_port;

	if (pcp_server_push(srv, CGN_MSG_ADD, rec) != 0) {
		pcp_server_forget(srv, rec);
		return PCP_RES_NO_RESOURCES;
	}
	srv->stats.mappings_created++;
	respond_with(ctx, rec, rec->lifetime_s);
	return PCP_RES_SUCCESS;
}

uint8_t
pcp_map_handle(struct pcp_ctx *ctx)
{
	const struct pcp_map_data *rq = &ctx->req.u.map;
	struct map_options mo = { 0 };

	/* §11.3 ¶2: nonce, protocol and internal port are copied; so, for now, are the
	 * suggested external address and port (erratum 3621 for deletes). */
	ctx->resp.u.map = *rq;

	uint8_t result = process_options(ctx, &mo);
	if (result != PCP_RES_SUCCESS)
		return result;

	/* §11.3: protocol and internal port. */
	if (rq->protocol == 0 && rq->internal_port != 0)
		return PCP_RES_MALFORMED_REQUEST;
	if (rq->protocol == 0 || rq->internal_port == 0)
		return PCP_RES_UNSUPP_PROTOCOL; /* DMZ and all-ports mappings are not offered */
	if (rq->protocol != IPPROTO_TCP && rq->protocol != IPPROTO_UDP)
		return PCP_RES_UNSUPP_PROTOCOL;

	struct cgn_key in = cgn_key_make(&mo.internal, rq->internal_port, rq->protocol, CGN_SIDE_INSIDE);
	struct pcp_mapping_rec *rec = mapping_db_find(ctx->srv->db, &in);

	if (ctx->req.lifetime == 0)
		return map_delete(ctx, rec);
	if (rec)
		return map_renew(ctx, &mo, rec);
	return map_create(ctx, &mo, &in);
}
