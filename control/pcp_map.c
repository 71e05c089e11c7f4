/*
 * The MAP opcode (RFC 6887 §11.3) on the wire: reads the request and its options (§13.1
 * THIRD_PARTY, §13.2 PREFER_FAILURE, §13.3 FILTER, RFC 7225 PREFIX64, RFC 7220 DESCRIPTION,
 * RFC 7753 PORT_SET) in order into a map_intent, lets the mapping lifecycle (mappings.c) act on
 * it, and writes the response; a port-set MAP is answered by pcp_port_set.c.
 * An IPv6 internal address makes a NAT64 mapping (RFC 6887 §5, Figure 5: external IPv4,
 * remote peers under a Pref64) when NAT64 is on.
 */
#include <netinet/in.h>
#include <string.h>

#include "pcp_server_int.h"

uint8_t
pcp_option_third_party_check(struct pcp_ctx *ctx, const struct pcp_option *opt, struct cgn_addr *internal)
{
	const struct cgn_config *cfg = &ctx->srv->cfg;
	/* "If the packet arrives from an unauthorized host, the PCP server MUST generate an
	 * UNSUPP_OPTION error." */
	if (!cgn_prefix_list_contains(cfg->pcp.third_party, cfg->pcp.n_third_party, &ctx->src))
		return PCP_RES_UNSUPP_OPTION;
	pcp_option_third_party(opt, internal);
	/* "A THIRD_PARTY option MUST NOT contain the same address as the source address" */
	if (cgn_addr_eq(internal, &ctx->src))
		return PCP_RES_MALFORMED_REQUEST;
	return PCP_RES_SUCCESS;
}

/* §13.3: prefix lengths 96..128 for IPv4 (mapped) remote peers, 0..128 for IPv6; 0 clears. */
static uint8_t
read_filter(const struct cgn_config *cfg, const struct pcp_option *opt, struct map_intent *mi)
{
	struct pcp_filter f;
	pcp_option_filter(opt, &f);
	if (f.prefix_len == 0) {
		mi->filters_clear = true; /* "will remove all previous filters" */
		mi->n_filters = 0;
		return PCP_RES_SUCCESS;
	}
	if (f.prefix_len > 128 || (cgn_addr_is_v4(&f.remote_addr) && f.prefix_len < 96))
		return PCP_RES_MALFORMED_OPTION;
	struct cgn_filter sent = { .addr = f.remote_addr, .port = f.remote_port, .prefix_len = f.prefix_len };
	/* Host bits beyond the prefix are not significant: clear them so equal filters compare equal. */
	for (int bit = f.prefix_len; bit < 128; bit++)
		sent.addr.b[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	/* A NAT64 client's remote peers are IPv6, under a Pref64 (§5); the data plane filters the
	 * IPv4 addresses they embed. */
	struct cgn_filter cf = sent;
	if (!cgn_addr_is_v4(&mi->in.addr) && cgn_nat64_enabled(cfg)) {
		int pref64;
		uint8_t rc = pcp_nat64_filter(cfg, &sent, &cf, &pref64);
		if (rc != PCP_RES_SUCCESS)
			return rc;
		if (pref64 >= 0 && mi->n_filters == 0)
			mi->pref64 = (uint8_t)pref64; /* inbound sources embedded as the first FILTER's */
	}
	for (uint8_t i = 0; i < mi->n_filters; i++)
		if (memcmp(&mi->filters[i], &cf, sizeof(cf)) == 0)
			return PCP_RES_SUCCESS; /* the same filter twice counts once */
	if (mi->n_filters >= CGN_MAP_FILTERS)
		return PCP_RES_EXCESSIVE_REMOTE_PEERS;
	mi->filters_sent[mi->n_filters] = sent;
	mi->filters[mi->n_filters++] = cf;
	return PCP_RES_SUCCESS;
}

static uint8_t
read_options(struct pcp_ctx *ctx, struct map_intent *mi)
{
	const struct pcp_map_data *rq = &ctx->req.u.map;
	/* FILTERs are read against the internal address: THIRD_PARTY's wherever it comes (§13.1
	 * gives it no place among the options: a first look here; the loop checks it), else the
	 * source's. */
	const struct pcp_option *tp = pcp_request_option(&ctx->req, PCP_OPT_THIRD_PARTY);
	if (tp != NULL)
		pcp_option_third_party(tp, &mi->in.addr);

	for (uint16_t i = 0; i < ctx->req.n_options; i++) {
		const struct pcp_option *opt = &ctx->req.options[i];
		uint8_t rc = PCP_RES_SUCCESS;
		switch (opt->code) {
		case PCP_OPT_THIRD_PARTY:
			rc = pcp_option_third_party_check(ctx, opt, &mi->in.addr);
			mi->third_party = true;
			break;
		case PCP_OPT_PREFER_FAILURE:
			/* §11.3: with lifetime 0 it "does not make sense"; §13.2: a zero
			 * suggested port is invalid. */
			if (ctx->req.lifetime == 0 || rq->external_port == 0)
				rc = PCP_RES_MALFORMED_OPTION;
			mi->prefer_failure = true;
			break;
		case PCP_OPT_FILTER:
			/* §13.3: "If a MAP request has a lifetime of 0 and contains the FILTER
			 * option, the error MALFORMED_OPTION is returned." */
			rc = ctx->req.lifetime == 0 ? PCP_RES_MALFORMED_OPTION : read_filter(&ctx->srv->cfg, opt, mi);
			break;
		case PCP_OPT_PREFIX64:
			/* RFC 7225 §4.2: answered with the server's PREFIX64 options (pcp_map_handle),
			 * not echoed. */
			continue;
		case PCP_OPT_DESCRIPTION: {
			/* RFC 7220 §3. A delete stores nothing: the option is not processed. An
			 * invalid text is ignored: not echoed, the request served. A valid one is
			 * echoed as it will be stored (cut to pcp.description_max);
			 * pcp_map_handle places the echo last, or takes it back if the mapping did not
			 * store it (pcp_description_place). (The codec made a second one MALFORMED_OPTION, §7.3.) */
			uint16_t keep;
			if (ctx->req.lifetime == 0 || !pcp_description_read(ctx->srv, opt, &keep))
				continue;
			mi->description = opt->data;
			mi->description_len = keep;
			mi->has_description = true;
			if (pcp_response_add_option(&ctx->resp, opt->code, opt->data, keep) != 0)
				return PCP_RES_MALFORMED_REQUEST;
			continue;
		}
		case PCP_OPT_PORT_SET:
			/* RFC 7753: answered with the set granted (pcp_port_set.c), not echoed. */
			rc = pcp_port_set_read(ctx, opt, mi);
			if (rc != PCP_RES_SUCCESS)
				return rc;
			continue;
		default:
			/* THIRD_PARTY_ID (RFC 7843) and AUTHENTICATION_TAG (RFC 7652) are not offered:
			 * UNSUPP_OPTION. Optional ones (CHECKPOINT_REQUIRED, unknown) are not
			 * processed, so not echoed (§7.3). */
			if (pcp_option_is_mandatory(opt->code))
				return PCP_RES_UNSUPP_OPTION;
			continue;
		}
		if (rc != PCP_RES_SUCCESS)
			return rc;
		if (pcp_response_add_option(&ctx->resp, opt->code, opt->data, opt->len) != 0)
			return PCP_RES_MALFORMED_REQUEST;
	}
	return PCP_RES_SUCCESS;
}

uint8_t
pcp_map_handle(struct pcp_ctx *ctx)
{
	const struct cgn_config *cfg = &ctx->srv->cfg;
	const struct pcp_map_data *rq = &ctx->req.u.map;
	static struct map_intent mi;

	/* §11.3 ¶2: nonce, protocol and internal port are copied; the suggested external
	 * address and port too, which erratum 3621 asks of deletes and the assigned ones
	 * overwrite otherwise. */
	ctx->resp.u.map = *rq;

	memset(&mi, 0, sizeof(mi));
	mi.in = cgn_key_make(&ctx->src, rq->internal_port, rq->protocol, CGN_SIDE_INSIDE);
	uint8_t rc = read_options(ctx, &mi);
	if (rc != PCP_RES_SUCCESS)
		return rc;

	/* A mapping is for an inside host: its own, or the third party it names. */
	if (!cgn_prefix_list_contains(cfg->pcp.inside, cfg->pcp.n_inside, &mi.in.addr))
		return PCP_RES_NOT_AUTHORIZED;
	/* An IPv6 host's mapping is a NAT64 one: none without NAT64 (§7.4 NOT_AUTHORIZED: "an
	 * operation that cannot be fulfilled by the PCP server's security policy"). */
	if (!cgn_addr_is_v4(&mi.in.addr) && !cgn_nat64_enabled(cfg))
		return PCP_RES_NOT_AUTHORIZED;
	/* §11.3: protocol and internal port. */
	if (rq->protocol == 0 && rq->internal_port != 0)
		return PCP_RES_MALFORMED_REQUEST;
	if (rq->protocol == 0 || rq->internal_port == 0)
		return PCP_RES_UNSUPP_PROTOCOL; /* DMZ and all-ports mappings are not offered */
	if (rq->protocol != IPPROTO_TCP && rq->protocol != IPPROTO_UDP)
		return PCP_RES_UNSUPP_PROTOCOL;

	mi.suggested_addr = rq->external_addr;
	mi.suggested_port = rq->external_port;
	mi.lifetime = ctx->req.lifetime;
	memcpy(mi.nonce, rq->nonce, PCP_NONCE_LEN);
	mi.origin = CGN_MAP_EXPLICIT;
	mi.client = ctx->src;
	mi.client_port = ctx->src_port;

	/* RFC 7225 §4.2: the Pref64s to a client that asks (none without NAT64), after the echoed
	 * options, as many as the response holds (never an error after the mapping changed). */
	if (pcp_prefix64_asked(&ctx->req))
		pcp_prefix64_append(cfg, &ctx->resp, ctx->p64_store, sizeof(ctx->p64_store));

	/* RFC 7753: a MAP that asks for a port set, or names a port of one. */
	if (pcp_port_set_applies(ctx->srv, &mi))
		return pcp_port_set_map(ctx, &mi);

	struct map_outcome out;
	rc = mapping_map(ctx->srv, ctx->now_ms, &mi, &out);
	if (rc != PCP_RES_SUCCESS) {
		ctx->error_lifetime = out.error_lifetime;
		return rc;
	}
	/* RFC 7220 §3: the DESCRIPTION comes back only as stored; a mapping that did not store it
	 * (a static one, memory short) signals "not accepted" by its absence. */
	if (mi.has_description)
		pcp_description_place(&ctx->resp, out.description_stored);
	ctx->resp.lifetime = out.lifetime;
	if (out.rec && out.lifetime != 0) {
		ctx->resp.u.map.external_port = out.rec->ext_port;
		/* IPv4-mapped, NAT64 included (§5) */
		ctx->resp.u.map.external_addr = cgn_addr_from_v4(out.rec->ext_addr);
	}
	return PCP_RES_SUCCESS;
}
