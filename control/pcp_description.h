/*
 * DESCRIPTION text (RFC 7220): the pure part, no DPDK, shared by the PCP server, its telemetry,
 * pcpc and the unit tests.
 *   - UTF-8 as RFC 3629 §4 defines it (no overlong forms, no surrogates, nothing above
 *     U+10FFFF, no truncated sequence), and truncation at a character boundary;
 *   - an escaper to JSON string bodies (RFC 8259 §7), ASCII only or UTF-8 kept;
 *   - the description index: the MAP part's text of each mapping that has one, by inside key,
 *     for readers on other threads (the telemetry thread) than the control thread that owns
 *     the records. The records (pcp_server_int.h) own their text; the index holds a copy of
 *     its first PCP_DESC_SHOWN_MAX octets.
 *
 * The UTF-8 and escape functions are pure and may be called from any thread. The index's
 * functions say which thread may call them.
 */
#ifndef PCP_DESCRIPTION_H
#define PCP_DESCRIPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** RFC 7220 §2: "Length: Variable, maximum 1016 octets." */
#define PCP_DESC_WIRE_MAX 1016
/** RFC 7220 §3: "A PCP server SHOULD be able to store at least 128 bytes". */
#define PCP_DESC_STORE_MIN 128

/**
 * @return true if s[0..len) is UTF-8 as RFC 3629 §4 defines it: no overlong form, no
 * surrogate (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. The empty text
 * is valid; so is U+0000 (the text is length-delimited, RFC 7220 §2).
 */
bool pcp_utf8_valid(const uint8_t *s, size_t len);

/**
 * The longest prefix of valid UTF-8 text s[0..len) of at most max octets that ends at a
 * character boundary (RFC 7220 §3 "truncating it if it cannot store the entire value"; never
 * half a character).
 * @return its length: len if len <= max.
 */
size_t pcp_utf8_prefix(const uint8_t *s, size_t len, size_t max);

/**
 * Writes s[0..len) as the body of a JSON string (RFC 8259 §7, no quotes), NUL-terminated, into
 * out[0..cap): '"' and '\\' escaped, control characters (U+0000..U+001F, U+007F) as \\uXXXX
 * (\\n, \\r, \\t by name); with ascii, every other non-ASCII character too (\\uXXXX, a
 * surrogate pair above U+FFFF), else kept as UTF-8. An octet that does not start a valid
 * UTF-8 sequence is written as U+FFFD. Stops before a character whose form would not fit.
 * @param consumed if not NULL, set to the octets of s written (len when all of it was).
 * @return the characters written, without the NUL; out must hold at least one octet.
 */
size_t pcp_utf8_escape(const uint8_t *s, size_t len, bool ascii, char *out, size_t cap, size_t *consumed);

/* ---- the description index ------------------------------------------------------------- */

/** Octets of a text the index keeps: what a telemetry string (RTE_TEL_MAX_STRING_LEN 128,
 *  with its NUL) can show at most. */
#define PCP_DESC_SHOWN_MAX 127

struct pcp_desc_index;

/**
 * @return an empty index for keys of key_len octets (compared by their bytes), with about
 * capacity/4 buckets; NULL if memory is short. Control thread, at start.
 */
struct pcp_desc_index *pcp_desc_index_create(uint32_t capacity, size_t key_len);

/** Frees the index and its texts. Control thread, once no reader can run. NULL is a no-op. */
void pcp_desc_index_free(struct pcp_desc_index *ix);

/**
 * Sets the text of key to the first PCP_DESC_SHOWN_MAX octets of text[0..len) (cut at a
 * character boundary; len is the stored length the readers are told), replacing any.
 * Control thread.
 * @return 0, or -ENOMEM with the key's previous text gone (the index shows less, never wrong).
 */
int pcp_desc_index_set(struct pcp_desc_index *ix, const void *key, const uint8_t *text, uint16_t len);

/** Removes the text of key, if any. Control thread. */
void pcp_desc_index_del(struct pcp_desc_index *ix, const void *key);

/**
 * Copies the text of key as pcp_utf8_escape(ascii) writes it into out[0..cap), as much as
 * fits. Any thread: it holds the index's lock while it copies.
 * @param stored_len if not NULL, set to the length of the text the record stores (octets).
 * @return true if key has a text (possibly empty), false if not (out is then "").
 */
bool pcp_desc_index_get(struct pcp_desc_index *ix, const void *key, char *out, size_t cap, uint16_t *stored_len);

/** @return the keys that have a text. Any thread. */
uint32_t pcp_desc_index_count(struct pcp_desc_index *ix);

#endif /* PCP_DESCRIPTION_H */
