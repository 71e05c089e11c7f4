/*
 * libFuzzer target for the PCP codec (common/pcp_wire.c). Any bytes in; checks:
 *   - no crash, no out-of-bounds read (ASan/UBSan build);
 *   - a request the parser accepts has a legal length, option views inside the input,
 *     and survives a rebuild: pcp_build_request() of the parsed fields parses back to the
 *     same fields;
 *   - every error response the server would send is 24..1100 octets, a multiple of 4, and
 *     readable by the client parser;
 *   - the client-side response parser keeps its views inside the input too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcp_wire.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static struct pcp_request req, again;
static struct pcp_response resp;

static void
check_views(const struct pcp_option *opts, uint16_t n, const uint8_t *data, size_t size)
{
	for (uint16_t i = 0; i < n; i++) {
		CHECK(opts[i].data >= data);
		CHECK(opts[i].data + opts[i].len <= data + size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[PCP_MAX_MSG], rebuilt[PCP_MAX_MSG], result = 0;

	enum pcp_verdict v = pcp_parse_request(data, size, &req, &result);
	switch (v) {
	case PCP_VERDICT_OK: {
		CHECK(size >= PCP_HDR_LEN && size <= PCP_MAX_MSG && size % 4 == 0);
		check_views(req.options, req.n_options, data, size);
		ssize_t n = pcp_build_request(&req, rebuilt, sizeof(rebuilt));
		CHECK(n > 0 && (size_t)n <= size);
		uint8_t r2;
		CHECK(pcp_parse_request(rebuilt, (size_t)n, &again, &r2) == PCP_VERDICT_OK);
		CHECK(again.opcode == req.opcode && again.lifetime == req.lifetime);
		CHECK(memcmp(&again.client_addr, &req.client_addr, sizeof(req.client_addr)) == 0);
		CHECK(memcmp(&again.u, &req.u, sizeof(req.u)) == 0);
		CHECK(again.n_options == req.n_options);
		for (uint16_t i = 0; i < req.n_options; i++) {
			CHECK(again.options[i].code == req.options[i].code);
			CHECK(again.options[i].len == req.options[i].len);
			CHECK(req.options[i].len == 0 ||
			      memcmp(again.options[i].data, req.options[i].data, req.options[i].len) == 0);
		}
		break;
	}
	case PCP_VERDICT_ERROR: {
		CHECK(result != 0);
		size_t n = pcp_build_error(data, size, result, 1800, 42, false, out);
		CHECK(n >= PCP_HDR_LEN && n <= PCP_MAX_MSG && n % 4 == 0);
		CHECK(pcp_parse_response(out, n, &resp) == PCP_VERDICT_OK);
		CHECK(resp.result == result && resp.epoch == 42);
		break;
	}
	case PCP_VERDICT_DROP:
	case PCP_VERDICT_NATPMP:
		break;
	}

	if (pcp_parse_response(data, size, &resp) == PCP_VERDICT_OK)
		check_views(resp.options, resp.n_options, data, size);
	return 0;
}
