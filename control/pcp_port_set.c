/*
 * RFC 7753 PORT_SET on a MAP request: reads the option (§4), finds which existing mappings
 * the request's internal ports touch (§4.4.1), and answers: a new set (mappings.c,
 * mapping_set_create), or a refresh of each mapping touched, one response each. The set
 * lifecycle itself (records, data plane, quotas, expiry) is mappings.c's.
 *
 * Decisions where the RFC is silent (docs/conformance/rfc7753.md):
 *   - First Internal Port different from the MAP's Internal Port (a client MUST send them
 *     equal, §4): MALFORMED_OPTION, as the other checks of §4.2, for a non-zero lifetime.
 *   - The §4.2 checks are for a non-zero lifetime only, as §4.2 says: a delete with size 0
 *     deletes what its Internal Port names, a size of 1.
 *   - The internal ports a request "tries to map" are at most pcp.port_set_max from its
 *     Internal Port: the server never maps more, so never looks further (bounded work).
 *   - The first response is the one for the lowest internal port touched, with the request's
 *     Internal Port (§4: "always identical in matched requests and responses"); each other
 *     one carries its mapping's first internal port as Internal Port (§5.3: "Internal Port =
 *     101"), and leaves by the unsolicited queue at the next tick (within 100 ms), after the
 *     ordinary response, to the requesting client's address and port.
 *   - The P bit of a response echoes the request's (§4.2 does not say).
 *   - §7: "it is necessary that the request contain the nonce associated with multiple
 *     mappings" for it to yield several responses: a mapping after the first whose nonce
 *     differs gets no response (NOT_AUTHORIZED, counted), so one request without the nonces
 *     brings back one answer; with them, at most one a mapping the request's ports touch.
 *
 * Control thread only.
 */
#include <string.h>

#include "pcp_server_int.h"

uint8_t
pcp_port_set_read(struct pcp_ctx *ctx, const struct pcp_option *opt, struct map_intent *mi)
{
	const struct pcp_map_data *rq = &ctx->req.u.map;
	struct pcp_port_set ps;
	pcp_option_port_set(opt, &ps);
	/* §4.2: "the following checks are made upon receipt of a PORT_SET option with a
	 * non-zero Requested Lifetime" (more than one PORT_SET: the codec's, RFC 6887 §7.3). */
	if (ctx->req.lifetime != 0) {
		if (ps.size == 0) /* "If the Port Set Size is zero, a MALFORMED_OPTION error" */
			return PCP_RES_MALFORMED_OPTION;
		/* §4: "In a request, this field MUST be set equal to the Internal Port field" */
		if (ps.first_internal_port != rq->internal_port)
			return PCP_RES_MALFORMED_OPTION;
	}
	uint32_t max = ctx->srv->cfg.pcp.port_set_max ? ctx->srv->cfg.pcp.port_set_max : ctx->srv->cfg.nat.block_size;
	uint32_t want = ps.size ? ps.size : 1;
	if (want > max)
		want = max; /* "The PCP server MAY map fewer ports" */
	if ((uint32_t)rq->internal_port + want > UINT16_MAX + 1u)
		want = UINT16_MAX + 1u - rq->internal_port;
	mi->set_want = (uint16_t)(want ? want : 1);
	mi->set_parity = ps.parity;
	return PCP_RES_SUCCESS;
}

bool
pcp_port_set_applies(struct pcp_server *srv, const struct map_intent *mi)
{
	if (mi->set_want != 0)
		return true;
	const struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &mi->in);
	return rec != NULL && mapping_in_set(rec);
}

/* Writes a touched mapping's outcome into a response (RFC 7753 §4.2 last paragraph): the
 * Assigned External Port is the first of the set, PORT_SET gives the set's size and first
 * internal port; none for a single port ("the PORT_SET option MUST NOT be present"). */
static void
fill_response(struct pcp_response *r, const struct map_outcome *out, bool parity, uint8_t store[PCP_PORT_SET_LEN])
{
	r->lifetime = out->lifetime;
	if (out->rec && out->lifetime != 0) {
		r->u.map.external_port = mapping_first_external(out->rec);
		r->u.map.external_addr = cgn_addr_from_v4(out->rec->ext_addr); /* IPv4-mapped (§5) */
	}
	if (out->set_size < 2)
		return;
	struct pcp_port_set ps = { .size = out->set_size, .first_internal_port = out->set_first, .parity = parity };
	pcp_port_set_encode(&ps, store);
	/* Room for it: PREFIX64s (RFC 7225) were added as many as fit, the last ones give way. */
	while (pcp_response_len(r) + PCP_OPT_HDR_LEN + 8 > PCP_MAX_MSG && r->n_options > 0 &&
	       r->options[r->n_options - 1].code == PCP_OPT_PREFIX64)
		r->n_options--;
	pcp_response_add_option(r, PCP_OPT_PORT_SET, store, PCP_PORT_SET_LEN);
}

/* The response for a touched mapping after the first: queued for the requesting client. */
static void
send_extra(struct pcp_ctx *ctx, const struct pcp_response *base, const struct pcp_mapping_rec *touched,
	   uint8_t result, const struct map_outcome *out, bool parity)
{
	struct pcp_server *srv = ctx->srv;
	static struct pcp_response r;
	uint8_t store[PCP_PORT_SET_LEN], msg[PCP_MAX_MSG];
	r = *base;
	r.result = result;
	r.epoch = pcp_server_epoch(srv, ctx->now_ms);
	struct cgn_key about = touched->in;
	about.port = mapping_in_set(touched) ? touched->set_first : touched->in.port;
	r.u.map.internal_port = about.port;
	if (result == PCP_RES_SUCCESS) {
		fill_response(&r, out, parity, store);
	} else {
		r.lifetime = out->error_lifetime ? out->error_lifetime
			   : pcp_result_class(result) == PCP_LT_LONG ? srv->cfg.pcp.long_error_lifetime
								      : srv->cfg.pcp.short_error_lifetime;
	}
	srv->stats.by_result[result < PCP_RES_COUNT ? result : PCP_RES_COUNT]++;
	ssize_t len = pcp_build_response(&r, msg, sizeof(msg));
	if (len < 0) {
		srv->stats.unsolicited_failed++;
		return;
	}
	/* One send, at the next tick: after the ordinary response. about: the mapping, so that
	 * it is not taken for an ANNOUNCE (pcp_unsolicited_cancel(NULL)). */
	pcp_unsolicited_add(srv, ctx->now_ms, &ctx->src, ctx->src_port, msg, (size_t)len, 1, 0, &about);
	srv->stats.port_set_responses++;
}

uint8_t
pcp_port_set_map(struct pcp_ctx *ctx, struct map_intent *mi)
{
	struct pcp_server *srv = ctx->srv;
	/* §4.1: "PREFER_FAILURE MUST NOT appear in a request with a PORT_SET option"; §4.2:
	 * "If a PREFER_FAILURE option is present, a MALFORMED_OPTION error is returned." */
	if (mi->set_want != 0 && mi->prefer_failure && mi->lifetime != 0)
		return PCP_RES_MALFORMED_OPTION;

	/* §4.4.1: the mappings whose internal ports the request names, in port order; a set
	 * once, whichever of its ports is named. */
	static struct pcp_mapping_rec *touched[UINT16_MAX + 1];
	uint32_t n = 0, span = mi->set_want ? mi->set_want : 1;
	struct cgn_key k = mi->in;
	for (uint32_t p = mi->in.port; p < (uint32_t)mi->in.port + span && p <= UINT16_MAX;) {
		k.port = (uint16_t)p;
		struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &k);
		if (rec == NULL) {
			p++;
			continue;
		}
		touched[n++] = rec;
		p = mapping_in_set(rec) ? (uint32_t)rec->set_first + rec->set_size : p + 1;
	}

	struct map_outcome out;
	uint8_t rc;
	if (n == 0) {
		/* Nothing there: a new set, or a single port (size 1: "handled as a single-port
		 * PCP MAP request"; a delete of nothing: SUCCESS). */
		if (mi->set_want >= 2 && mi->lifetime != 0)
			rc = mapping_set_create(srv, ctx->now_ms, mi, &out);
		else
			rc = mapping_map(srv, ctx->now_ms, mi, &out);
		if (rc != PCP_RES_SUCCESS) {
			ctx->error_lifetime = out.error_lifetime;
			return rc;
		}
		if (mi->has_description) /* RFC 7220 §3: echoed only as stored */
			pcp_description_place(&ctx->resp, out.description_stored);
		fill_response(&ctx->resp, &out, mi->set_parity, ctx->port_set_store);
		return PCP_RES_SUCCESS;
	}

	/* "Each of the matching port or port-set mappings is processed independently, as if a
	 * separate refresh request had been received. [...] The PCP server sends a Mapping
	 * Update message for each of the mappings." */
	static struct pcp_response base;
	base = ctx->resp; /* the echoed options, before the first's PORT_SET */
	uint8_t first_rc = PCP_RES_SUCCESS;
	for (uint32_t i = 0; i < n; i++) {
		struct map_intent one = *mi;
		one.in = touched[i]->in;
		bool set = mapping_in_set(touched[i]);
		struct pcp_mapping_rec snapshot = *touched[i]; /* for the response: a delete frees it */
		rc = set ? mapping_set_refresh(srv, ctx->now_ms, &one, touched[i], &out)
			 : mapping_map(srv, ctx->now_ms, &one, &out);
		/* A refused first mapping took back its own changes; what the others changed
		 * stands (in the data plane too): pcp_server_handle must not undo their store
		 * writes with the first's error. */
		if (i > 0 && rc == PCP_RES_SUCCESS)
			ctx->store_keep = true;
		if (i == 0) {
			first_rc = rc;
			if (rc != PCP_RES_SUCCESS) {
				ctx->error_lifetime = out.error_lifetime;
			} else {
				if (mi->has_description) /* RFC 7220 §3: echoed only as stored */
					pcp_description_place(&ctx->resp, out.description_stored);
				fill_response(&ctx->resp, &out, mi->set_parity, ctx->port_set_store);
			}
		} else if (rc == PCP_RES_NOT_AUTHORIZED) {
			srv->stats.by_result[rc]++; /* not another's mapping's answer: no amplification (§7) */
		} else {
			send_extra(ctx, &base, &snapshot, rc, &out, mi->set_parity);
		}
	}
	return first_rc;
}
