/*
 * DESCRIPTION text (RFC 7220): UTF-8 validation and truncation (RFC 3629 §4), the JSON escaper,
 * and the description index the telemetry thread reads. See pcp_description.h.
 */
#include "pcp_description.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 (RFC 3629 §4) ----------------------------------------------------------------- */

/*
 * Decodes the character at s[0..len). RFC 3629 §4:
 *   UTF8-1 = %x00-7F
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 * The second octet's ranges are what exclude the overlong forms (C0, C1, E0 80-9F, F0 80-8F),
 * the surrogates (ED A0-BF) and what lies above U+10FFFF (F4 90-BF, F5-FF).
 * @return the octets of the character (1..4) and *cp, or 0 if no valid one starts here.
 */
static size_t
utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint8_t c = s[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf; /* the range of the second octet */
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0; /* a tail octet, C0, C1, F5..FF */
	}
	if (len < n)
		return 0; /* truncated */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return n;
}

bool
pcp_utf8_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t
pcp_utf8_prefix(const uint8_t *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	/* In valid text a character starts at every octet that is not a tail (10xxxxxx). */
	while (n > 0 && (s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

size_t
pcp_utf8_escape(const uint8_t *s, size_t len, bool ascii, char *out, size_t cap, size_t *consumed)
{
	size_t o = 0, i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		bool bad = n == 0;
		if (bad) {
			cp = 0xfffd; /* REPLACEMENT CHARACTER for an octet that starts nothing valid */
			n = 1;
		}
		char form[16];
		size_t f;
		if (cp == '"' || cp == '\\') {
			form[0] = '\\';
			form[1] = (char)cp;
			f = 2;
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			form[0] = '\\';
			form[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
			f = 2;
		} else if (cp >= 0x20 && cp < 0x7f) {
			form[0] = (char)cp;
			f = 1;
		} else if (cp < 0x20 || cp == 0x7f || (ascii && cp <= 0xffff)) {
			f = (size_t)snprintf(form, sizeof(form), "\\u%04x", (unsigned)cp);
		} else if (ascii) { /* RFC 8259 §7: a UTF-16 surrogate pair */
			uint32_t v = cp - 0x10000;
			f = (size_t)snprintf(form, sizeof(form), "\\u%04x\\u%04x", (unsigned)(0xd800 | v >> 10),
					     (unsigned)(0xdc00 | (v & 0x3ff)));
		} else if (!bad) {
			memcpy(form, s + i, n); /* valid UTF-8 kept as it is */
			f = n;
		} else {
			memcpy(form, "\xef\xbf\xbd", 3); /* U+FFFD in UTF-8 */
			f = 3;
		}
		if (o + f + 1 > cap)
			break;
		memcpy(out + o, form, f);
		o += f;
		i += n;
	}
	if (cap > 0)
		out[o] = '\0';
	if (consumed)
		*consumed = i;
	return o;
}

/* ---- the description index --------------------------------------------------------------- */

/*
 * A chained hash table under one mutex. The control thread changes it a text at a time (a MAP
 * or PEER request, an expiry); the telemetry thread copies a text per mapping of a page. Nodes
 * are allocated per text, so memory follows the mappings that have a description.
 */
struct desc_node {
	struct desc_node *next;
	uint16_t stored_len; /* octets the record stores (>= len) */
	uint16_t len;        /* octets kept here, <= PCP_DESC_SHOWN_MAX */
	uint8_t text[PCP_DESC_SHOWN_MAX];
	uint8_t key[];       /* key_len octets */
};

struct pcp_desc_index {
	pthread_mutex_t lock; /* guards everything below */
	size_t key_len;
	uint32_t mask;        /* buckets - 1 */
	uint32_t count;
	struct desc_node **buckets;
};

/* FNV-1a over the key's octets. */
static uint32_t
key_hash(const struct pcp_desc_index *ix, const void *key)
{
	const uint8_t *k = key;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < ix->key_len; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

struct pcp_desc_index *
pcp_desc_index_create(uint32_t capacity, size_t key_len)
{
	struct pcp_desc_index *ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		return NULL;
	uint32_t n = 64;
	while (n < capacity / 4 && n < (1u << 24))
		n <<= 1;
	ix->buckets = calloc(n, sizeof(*ix->buckets));
	if (ix->buckets == NULL) {
		free(ix);
		return NULL;
	}
	ix->mask = n - 1;
	ix->key_len = key_len;
	pthread_mutex_init(&ix->lock, NULL);
	return ix;
}

void
pcp_desc_index_free(struct pcp_desc_index *ix)
{
	if (ix == NULL)
		return;
	for (uint32_t b = 0; b <= ix->mask; b++) {
		struct desc_node *n = ix->buckets[b];
		while (n) {
			struct desc_node *next = n->next;
			free(n);
			n = next;
		}
	}
	pthread_mutex_destroy(&ix->lock);
	free(ix->buckets);
	free(ix);
}

/* The link that points at key's node, or at the NULL ending its bucket. Lock held. */
static struct desc_node **
find_link(struct pcp_desc_index *ix, const void *key)
{
	struct desc_node **l = &ix->buckets[key_hash(ix, key) & ix->mask];
	while (*l && memcmp((*l)->key, key, ix->key_len) != 0)
		l = &(*l)->next;
	return l;
}

int
pcp_desc_index_set(struct pcp_desc_index *ix, const void *key, const uint8_t *text, uint16_t len)
{
	/* Allocated before the lock: the reader never waits for malloc. */
	struct desc_node *node = malloc(sizeof(*node) + ix->key_len);
	if (node != NULL) {
		memcpy(node->key, key, ix->key_len);
		node->stored_len = len;
		node->len = (uint16_t)pcp_utf8_prefix(text, len, PCP_DESC_SHOWN_MAX);
		memcpy(node->text, text, node->len);
	}
	pthread_mutex_lock(&ix->lock);
	struct desc_node **l = find_link(ix, key), *old = *l;
	if (old) {
		*l = old->next;
		ix->count--;
	}
	if (node) {
		node->next = *l;
		*l = node;
		ix->count++;
	}
	pthread_mutex_unlock(&ix->lock);
	free(old);
	return node ? 0 : -ENOMEM;
}

void
pcp_desc_index_del(struct pcp_desc_index *ix, const void *key)
{
	pthread_mutex_lock(&ix->lock);
	struct desc_node **l = find_link(ix, key), *old = *l;
	if (old) {
		*l = old->next;
		ix->count--;
	}
	pthread_mutex_unlock(&ix->lock);
	free(old);
}

bool
pcp_desc_index_get(struct pcp_desc_index *ix, const void *key, char *out, size_t cap, uint16_t *stored_len)
{
	pthread_mutex_lock(&ix->lock);
	struct desc_node *n = *find_link(ix, key);
	if (n) {
		pcp_utf8_escape(n->text, n->len, true, out, cap, NULL);
		if (stored_len)
			*stored_len = n->stored_len;
	} else if (cap > 0) {
		out[0] = '\0';
	}
	pthread_mutex_unlock(&ix->lock);
	return n != NULL;
}

uint32_t
pcp_desc_index_count(struct pcp_desc_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	uint32_t n = ix->count;
	pthread_mutex_unlock(&ix->lock);
	return n;
}
