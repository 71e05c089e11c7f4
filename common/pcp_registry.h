/*
 * PCP protocol registries: opcodes, options and result codes, as IANA keeps them
 * (../shared/spec/pcp-options-registry.csv, pcp-result-codes-registry.txt; RFC 6887 §19).
 *
 * These are the only X-macro tables of the codec. The unit test tests/unit/test_registry.c
 * reads the two IANA files and checks these tables against them line by line, so a change
 * here that disagrees with IANA fails the build's tests.
 *
 * Pure data and lookups: no state, callable from any thread.
 */
#ifndef PCP_REGISTRY_H
#define PCP_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

/* Opcodes (RFC 6887 §19.2, RFC 7652 §5.1). */
#define PCP_OPCODES(X)             \
	X(ANNOUNCE, 0)             \
	X(MAP, 1)                  \
	X(PEER, 2)                 \
	X(AUTHENTICATION, 3)

enum pcp_opcode {
#define X(name, val) PCP_OP_##name = val,
	PCP_OPCODES(X)
#undef X
	PCP_OP_COUNT
};

/* Bit per opcode, for the "valid for opcodes" column. */
#define PCP_OPBIT(op) (1u << PCP_OP_##op)

/* How the "Length" column constrains an option's data length. */
enum pcp_optlen_kind {
	PCP_LEN_FIXED,    /* exactly len octets */
	PCP_LEN_MAX,      /* at most len octets */
	PCP_LEN_VARIABLE, /* any length that fits in a message */
};

/* The "May appear in" column. */
enum pcp_opt_where {
	PCP_IN_REQ_ECHO, /* request; in a response only if it was in the request */
	PCP_IN_BOTH,     /* request and response */
	PCP_IN_RESP,     /* response only */
};

/* Maximum occurrences: a number, or unlimited ("as many as fit"). */
#define PCP_OCC_ANY 0

/*
 * Options: X(NAME, code, valid opcodes, length kind, length, where,
 *            max occurrences in a request, max occurrences in a response)
 */
#define PCP_OPTIONS(X)                                                                             \
	X(THIRD_PARTY, 1, PCP_OPBIT(MAP) | PCP_OPBIT(PEER), FIXED, 16, REQ_ECHO, 1, 1)             \
	X(PREFER_FAILURE, 2, PCP_OPBIT(MAP), FIXED, 0, REQ_ECHO, 1, 1)                             \
	X(FILTER, 3, PCP_OPBIT(MAP), FIXED, 20, REQ_ECHO, PCP_OCC_ANY, PCP_OCC_ANY)                \
	X(NONCE, 4, PCP_OPBIT(AUTHENTICATION), FIXED, 4, BOTH, 1, 1)                               \
	X(AUTHENTICATION_TAG, 5, PCP_OPBIT(MAP) | PCP_OPBIT(PEER) | PCP_OPBIT(ANNOUNCE), VARIABLE, \
	  0, BOTH, 1, 1)                                                                           \
	X(PA_AUTHENTICATION_TAG, 6, PCP_OPBIT(AUTHENTICATION), VARIABLE, 0, BOTH, 1, 1)            \
	X(EAP_PAYLOAD, 7, PCP_OPBIT(AUTHENTICATION), VARIABLE, 0, BOTH, 1, 1)                      \
	X(PRF, 8, PCP_OPBIT(AUTHENTICATION), FIXED, 4, BOTH, PCP_OCC_ANY, PCP_OCC_ANY)             \
	X(MAC_ALGORITHM, 9, PCP_OPBIT(AUTHENTICATION), FIXED, 4, BOTH, PCP_OCC_ANY, PCP_OCC_ANY)   \
	X(SESSION_LIFETIME, 10, PCP_OPBIT(AUTHENTICATION), FIXED, 4, RESP, 1, 1)                   \
	X(RECEIVED_PAK, 11, PCP_OPBIT(AUTHENTICATION), FIXED, 4, BOTH, 1, 1)                       \
	X(ID_INDICATOR, 12, PCP_OPBIT(AUTHENTICATION), VARIABLE, 0, RESP, 1, 1)                    \
	X(THIRD_PARTY_ID, 13, PCP_OPBIT(MAP) | PCP_OPBIT(PEER), MAX, 1016, REQ_ECHO, 1, 1)         \
	X(DESCRIPTION, 128, PCP_OPBIT(MAP) | PCP_OPBIT(PEER), MAX, 1016, REQ_ECHO, 1, 1)           \
	X(PREFIX64, 129, PCP_OPBIT(MAP) | PCP_OPBIT(ANNOUNCE), VARIABLE, 0, BOTH, 1, PCP_OCC_ANY)  \
	X(PORT_SET, 130, PCP_OPBIT(MAP), FIXED, 5, BOTH, 1, 1)                                     \
	X(CHECKPOINT_REQUIRED, 192, PCP_OPBIT(MAP) | PCP_OPBIT(PEER), FIXED, 0, BOTH, 1, 1)

enum pcp_option_code {
#define X(name, code, ops, lk, len, where, mreq, mresp) PCP_OPT_##name = code,
	PCP_OPTIONS(X)
#undef X
};

/* Option codes below this are mandatory to process (RFC 6887 §7.3). */
#define PCP_OPT_OPTIONAL_BIT 0x80

struct pcp_option_desc {
	const char *name;
	uint8_t code;
	uint8_t opcodes; /* PCP_OPBIT() mask */
	enum pcp_optlen_kind len_kind;
	uint16_t len;
	enum pcp_opt_where where;
	uint8_t max_in_request;  /* PCP_OCC_ANY = unlimited */
	uint8_t max_in_response; /* PCP_OCC_ANY = unlimited */
};

/* Result codes (RFC 6887 §7.4, RFC 7652 §5, RFC 7843 §4) with their error-lifetime class. */
enum pcp_lifetime_class {
	PCP_LT_NONE,    /* success, or the registry gives no class (RFC 7652 codes) */
	PCP_LT_SHORT,   /* "short lifetime error": 30 s recommended */
	PCP_LT_LONG,    /* "long lifetime error": 30 min recommended */
	PCP_LT_DEPENDS, /* "depends on the reason for the failure" */
};

#define PCP_RESULTS(X)                          \
	X(SUCCESS, 0, NONE)                     \
	X(UNSUPP_VERSION, 1, LONG)              \
	X(NOT_AUTHORIZED, 2, LONG)              \
	X(MALFORMED_REQUEST, 3, LONG)           \
	X(UNSUPP_OPCODE, 4, LONG)               \
	X(UNSUPP_OPTION, 5, LONG)               \
	X(MALFORMED_OPTION, 6, LONG)            \
	X(NETWORK_FAILURE, 7, SHORT)            \
	X(NO_RESOURCES, 8, SHORT)               \
	X(UNSUPP_PROTOCOL, 9, LONG)             \
	X(USER_EX_QUOTA, 10, SHORT)             \
	X(CANNOT_PROVIDE_EXTERNAL, 11, DEPENDS) \
	X(ADDRESS_MISMATCH, 12, LONG)           \
	X(EXCESSIVE_REMOTE_PEERS, 13, LONG)     \
	X(INITIATION, 14, NONE)                 \
	X(AUTHENTICATION_REQUIRED, 15, NONE)    \
	X(AUTHENTICATION_FAILED, 16, NONE)      \
	X(AUTHENTICATION_SUCCEEDED, 17, NONE)   \
	X(AUTHORIZATION_FAILED, 18, NONE)       \
	X(SESSION_TERMINATED, 19, NONE)         \
	X(UNKNOWN_SESSION_ID, 20, NONE)         \
	X(DOWNGRADE_ATTACK_DETECTED, 21, NONE)  \
	X(AUTHENTICATION_REQUEST, 22, NONE)     \
	X(AUTHENTICATION_REPLY, 23, NONE)       \
	X(THIRD_PARTY_ID_UNKNOWN, 24, LONG)     \
	X(THIRD_PARTY_MISSING_OPTION, 25, LONG) \
	X(UNSUPP_THIRD_PARTY_ID_LENGTH, 26, LONG)

enum pcp_result {
#define X(name, val, cls) PCP_RES_##name = val,
	PCP_RESULTS(X)
#undef X
	PCP_RES_COUNT
};

/**
 * Looks up the registry entry of an option code.
 * @return the entry, or NULL for an unassigned or reserved code. Any thread.
 */
const struct pcp_option_desc *pcp_option_desc(uint8_t code);

/** @return the IANA mnemonic of an opcode, or NULL if unassigned. Any thread. */
const char *pcp_opcode_name(uint8_t opcode);

/** @return the IANA mnemonic of a result code, or NULL if unassigned. Any thread. */
const char *pcp_result_name(uint8_t result);

/** @return the lifetime class of a result code (PCP_LT_NONE if unassigned). Any thread. */
enum pcp_lifetime_class pcp_result_class(uint8_t result);

/** @return true if an option code is in the mandatory-to-process range (RFC 6887 §7.3). */
static inline bool
pcp_option_is_mandatory(uint8_t code)
{
	return (code & PCP_OPT_OPTIONAL_BIT) == 0;
}

#endif /* PCP_REGISTRY_H */
