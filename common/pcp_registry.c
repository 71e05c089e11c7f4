/*
 * Lookups over the PCP registry tables declared in pcp_registry.h. Tables are built at compile
 * time from the X-macro lists; nothing here has state.
 */
#include "pcp_registry.h"

#include <stddef.h>

static const struct pcp_option_desc option_table[] = {
#define X(name_, code_, ops_, lk_, len_, where_, mreq_, mresp_)                                 \
	{ .name = #name_, .code = code_, .opcodes = ops_, .len_kind = PCP_LEN_##lk_, .len = len_, \
	  .where = PCP_IN_##where_, .max_in_request = mreq_, .max_in_response = mresp_ },
	PCP_OPTIONS(X)
#undef X
};

/* Position of each option in option_table, from the same list. */
enum {
#define X(name_, ...) OPTION_IDX_##name_,
	PCP_OPTIONS(X)
#undef X
};

const struct pcp_option_desc *
pcp_option_desc(uint8_t code)
{
	switch (code) {
#define X(name_, code_, ...)   \
	case code_:            \
		return &option_table[OPTION_IDX_##name_];
		PCP_OPTIONS(X)
#undef X
	default:
		return NULL;
	}
}

static const char *const opcode_names[PCP_OP_COUNT] = {
#define X(name, val) [val] = #name,
	PCP_OPCODES(X)
#undef X
};

const char *
pcp_opcode_name(uint8_t opcode)
{
	return opcode < PCP_OP_COUNT ? opcode_names[opcode] : NULL;
}

static const struct {
	const char *name;
	enum pcp_lifetime_class cls;
} result_table[PCP_RES_COUNT] = {
#define X(name_, val_, cls_) [val_] = { #name_, PCP_LT_##cls_ },
	PCP_RESULTS(X)
#undef X
};

const char *
pcp_result_name(uint8_t result)
{
	return result < PCP_RES_COUNT ? result_table[result].name : NULL;
}

enum pcp_lifetime_class
pcp_result_class(uint8_t result)
{
	return result < PCP_RES_COUNT ? result_table[result].cls : PCP_LT_NONE;
}
