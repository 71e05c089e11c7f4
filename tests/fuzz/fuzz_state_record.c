/*
 * libFuzzer target for the state store's record codec (control/state_record.c): what a
 * damaged or foreign store file may hold. The first octet picks the decoder (meta, mapping,
 * PEER session, or the open-time check with a key length), the rest is the record.
 *
 * Checks, beyond ASan/UBSan: a record that decodes stays within the bounds (filters,
 * description length, set), and encodes again to the same octets (it was stored as such).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcp_server_int.h"
#include "state_record.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++, size--;
	uint8_t again[CGN_STATE_REC_MAX];
	int64_t off = (int64_t)(sel >> 2) * 1000003;
	switch (sel & 3) {
	case 0: {
		struct cgn_state_meta m;
		if (cgn_state_meta_decode(data, size, &m) == 0) {
			int n = cgn_state_meta_encode(&m, again, sizeof(again));
			CHECK(n == (int)size && memcmp(again, data, size) == 0);
		}
		break;
	}
	case 1: {
		struct pcp_mapping_rec r;
		struct cgn_state_map_extra x;
		if (cgn_state_map_decode(data, size, off, &r, &x) == 0) {
			CHECK(r.n_filters <= CGN_MAP_FILTERS && r.description_len <= CGN_STATE_DESC_MAX);
			CHECK(r.description_len == 0 || r.description != NULL);
			CHECK(r.set_size == 0 || (r.in.port >= r.set_first && r.in.port - r.set_first < r.set_size));
			int n = cgn_state_map_encode(&r, &x, off, again, sizeof(again));
			/* times before this boot come back as 1 ms: not byte for byte then */
			CHECK(n > 0 && n == (int)size);
			free(r.description);
		}
		break;
	}
	case 2: {
		struct peer_key pk;
		struct pcp_peer_rec p;
		if (cgn_state_peer_decode(data, size, off, &pk, &p) == 0) {
			CHECK(p.description_len <= CGN_STATE_DESC_MAX);
			int n = cgn_state_peer_encode(&pk, &p, off, again, sizeof(again));
			CHECK(n == (int)size);
			free(p.description);
		}
		break;
	}
	default: {
		static const enum cgn_state_kind kinds[] = { CGN_STATE_META, CGN_STATE_MAPPING, CGN_STATE_PEER };
		cgn_state_record_check(kinds[(sel >> 2) % 3], data, size < 8 ? size : 8, data, size);
		break;
	}
	}
	return 0;
}
