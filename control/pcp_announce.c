/*
 * The ANNOUNCE opcode, solicited (RFC 6887 §14.1.2): a SUCCESS with lifetime 0 that tells the
 * client the server's epoch and changes no state. Options with ANNOUNCE "MAY be sent in the
 * future" (§14.1.1): mandatory ones we do not process are refused, optional ones ignored but
 * PREFIX64, answered with the server's Pref64s (RFC 7225 §4.2).
 */
#include "pcp_server_int.h"

uint8_t
pcp_announce_handle(struct pcp_ctx *ctx)
{
	for (uint16_t i = 0; i < ctx->req.n_options; i++)
		if (pcp_option_is_mandatory(ctx->req.options[i].code))
			return PCP_RES_UNSUPP_OPTION;
	ctx->resp.lifetime = 0;
	if (pcp_prefix64_asked(&ctx->req))
		pcp_prefix64_append(&ctx->srv->cfg, &ctx->resp, ctx->p64_store, sizeof(ctx->p64_store));
	return PCP_RES_SUCCESS;
}
