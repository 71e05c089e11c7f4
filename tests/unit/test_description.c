/*
 * DESCRIPTION text (RFC 7220, control/pcp_description.c): UTF-8 validation as RFC 3629 §4
 * defines it, truncation at a character boundary, the JSON escaper, the description index.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pcp_description.h"

#define U(s) (const uint8_t *)(s), sizeof(s) - 1

Test(utf8, valid_texts)
{
	cr_assert(pcp_utf8_valid(U("")), "empty");
	cr_assert(pcp_utf8_valid(U("FTP server")));
	cr_assert(pcp_utf8_valid(U("\x00")), "U+0000 is a character: the text is length-delimited");
	cr_assert(pcp_utf8_valid(U("\x7f")));
	cr_assert(pcp_utf8_valid(U("\xc2\x80")), "U+0080, the first 2-octet");
	cr_assert(pcp_utf8_valid(U("\xdf\xbf")), "U+07FF");
	cr_assert(pcp_utf8_valid(U("\xe0\xa0\x80")), "U+0800, the first 3-octet");
	cr_assert(pcp_utf8_valid(U("\xed\x9f\xbf")), "U+D7FF, below the surrogates");
	cr_assert(pcp_utf8_valid(U("\xee\x80\x80")), "U+E000, above them");
	cr_assert(pcp_utf8_valid(U("\xef\xbf\xbf")), "U+FFFF");
	cr_assert(pcp_utf8_valid(U("\xf0\x90\x80\x80")), "U+10000, the first 4-octet");
	cr_assert(pcp_utf8_valid(U("\xf4\x8f\xbf\xbf")), "U+10FFFF, the last");
	cr_assert(pcp_utf8_valid(U("Cam\xc3\xa9ra \xe2\x82\xac \xf0\x9f\x93\xb7")), "mixed");
}

Test(utf8, invalid_texts)
{
	static const struct {
		const char *s;
		size_t len;
		const char *why;
	} bad[] = {
		{ "\x80", 1, "a lone tail octet" },
		{ "\xbf", 1, "a lone tail octet" },
		{ "\xc0\x80", 2, "overlong U+0000 (C0)" },
		{ "\xc1\xbf", 2, "overlong U+007F (C1)" },
		{ "\xe0\x80\x80", 3, "overlong 3-octet" },
		{ "\xe0\x9f\xbf", 3, "overlong U+07FF in 3 octets" },
		{ "\xf0\x80\x80\x80", 4, "overlong 4-octet" },
		{ "\xf0\x8f\xbf\xbf", 4, "overlong U+FFFF in 4 octets" },
		{ "\xed\xa0\x80", 3, "surrogate U+D800" },
		{ "\xed\xbf\xbf", 3, "surrogate U+DFFF" },
		{ "\xed\xa0\xbd\xed\xb2\xa9", 6, "a CESU-8 surrogate pair" },
		{ "\xf4\x90\x80\x80", 4, "U+110000, above U+10FFFF" },
		{ "\xf5\x80\x80\x80", 4, "F5 never appears" },
		{ "\xff", 1, "FF never appears" },
		{ "\xfe", 1, "FE never appears" },
		{ "\xc3", 1, "truncated 2-octet" },
		{ "\xe2\x82", 2, "truncated 3-octet" },
		{ "\xf0\x9f\x93", 3, "truncated 4-octet" },
		{ "abc\xc3", 4, "truncated at the end" },
		{ "\xc3\x28", 2, "a tail that is not one" },
		{ "\xe2\x28\xa1", 3, "a tail that is not one" },
		{ "\xf0\x9f\x93\x28", 4, "a last tail that is not one" },
		{ "ok\xe9t\xe9", 5, "Latin-1, not UTF-8" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(pcp_utf8_valid((const uint8_t *)bad[i].s, bad[i].len), "%s", bad[i].why);
}

/* Every code point round-trips through a reference encoder; every invalid 2-octet form fails. */
Test(utf8, exhaustive_code_points)
{
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		uint8_t b[4];
		size_t n;
		if (cp < 0x80) {
			b[0] = (uint8_t)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (uint8_t)(0xc0 | cp >> 6);
			b[1] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (uint8_t)(0xe0 | cp >> 12);
			b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			b[2] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (uint8_t)(0xf0 | cp >> 18);
			b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
			b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			b[3] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 4;
		}
		bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
		if (pcp_utf8_valid(b, n) == surrogate)
			cr_assert_fail("U+%04X: %s", cp, surrogate ? "a surrogate accepted" : "refused");
		/* every shorter prefix is truncated */
		for (size_t k = 1; k < n; k++)
			if (pcp_utf8_valid(b, k))
				cr_assert_fail("U+%04X cut to %zu octets accepted", cp, k);
	}
	for (unsigned a = 0x80; a <= 0xff; a++)
		for (unsigned c = 0; c <= 0xff; c++) {
			uint8_t b[2] = { (uint8_t)a, (uint8_t)c };
			bool want = a >= 0xc2 && a <= 0xdf && c >= 0x80 && c <= 0xbf;
			if (pcp_utf8_valid(b, 2) != want)
				cr_assert_fail("%02x %02x", a, c);
		}
}

Test(utf8, prefix_cuts_at_a_character_boundary)
{
	const uint8_t *t = (const uint8_t *)"ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xb7"; /* a b é € 📷: 1 1 2 3 4 */
	size_t len = 12;
	cr_assert_eq(pcp_utf8_prefix(t, len, 100), 12, "short enough: whole");
	cr_assert_eq(pcp_utf8_prefix(t, len, 12), 12);
	static const size_t want[] = { 0, 1, 2, 2, 4, 4, 4, 7, 7, 7, 7, 11 };
	for (size_t max = 0; max < 12; max++) {
		size_t n = pcp_utf8_prefix(t, len, max);
		cr_assert_eq(n, want[max], "max %zu: %zu", max, n);
		cr_assert(pcp_utf8_valid(t, n), "max %zu: the prefix is valid", max);
	}
	/* RFC 7220's 128: 63 2-octet characters, then a 3-octet one across the limit */
	uint8_t big[129];
	for (int i = 0; i < 126; i += 2) {
		big[i] = 0xc3;
		big[i + 1] = 0xa9;
	}
	big[126] = 0xe2; /* octets 127..129: U+20AC, which does not fit in 128 */
	big[127] = 0x82;
	big[128] = 0xac;
	cr_assert(pcp_utf8_valid(big, 129));
	cr_assert_eq(pcp_utf8_prefix(big, 129, 128), 126);
	cr_assert_eq(pcp_utf8_prefix(big, 129, 129), 129);
}

Test(utf8, escape_json_bodies)
{
	char out[256];
	size_t used;
	cr_assert_eq(pcp_utf8_escape(U("FTP server"), true, out, sizeof(out), &used), 10);
	cr_assert_str_eq(out, "FTP server");
	cr_assert_eq(used, 10);
	pcp_utf8_escape(U("a\"b\\c\nd\re\tf\x01g\x7f"), true, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007f");
	pcp_utf8_escape(U("\x00"), true, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "\\u0000");
	pcp_utf8_escape(U("Cam\xc3\xa9ra \xe2\x82\xac \xf0\x9f\x93\xb7"), true, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "Cam\\u00e9ra \\u20ac \\ud83d\\udcf7", "ASCII only: a surrogate pair above U+FFFF");
	pcp_utf8_escape(U("Cam\xc3\xa9ra \xf0\x9f\x93\xb7\x01"), false, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "Cam\xc3\xa9ra \xf0\x9f\x93\xb7\\u0001", "UTF-8 kept, controls escaped");
	pcp_utf8_escape(U("a\xffz\xc3"), false, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "a\xef\xbf\xbdz\xef\xbf\xbd", "invalid octets as U+FFFD");
	pcp_utf8_escape(U("a\xffz"), true, out, sizeof(out), NULL);
	cr_assert_str_eq(out, "a\\ufffdz");
	/* Stops before a form that does not fit: never half an escape. */
	cr_assert_eq(pcp_utf8_escape(U("ab\xc3\xa9"), true, out, 8, &used), 2);
	cr_assert_str_eq(out, "ab");
	cr_assert_eq(used, 2);
	cr_assert_eq(pcp_utf8_escape(U("ab\xc3\xa9"), true, out, 9, &used), 8);
	cr_assert_eq(used, 4);
	cr_assert_eq(pcp_utf8_escape(U("x"), true, out, 1, &used), 0);
	cr_assert_str_eq(out, "");
}

struct key {
	uint32_t a, b;
};

Test(desc_index, set_get_replace_delete)
{
	struct pcp_desc_index *ix = pcp_desc_index_create(1000, sizeof(struct key));
	cr_assert_not_null(ix);
	char out[128];
	uint16_t stored = 0;
	struct key k1 = { 1, 2 }, k2 = { 1, 3 };
	cr_assert_not(pcp_desc_index_get(ix, &k1, out, sizeof(out), &stored));
	cr_assert_str_eq(out, "");
	cr_assert_eq(pcp_desc_index_set(ix, &k1, U("camera")), 0);
	cr_assert_eq(pcp_desc_index_set(ix, &k2, U("")), 0);
	cr_assert(pcp_desc_index_get(ix, &k1, out, sizeof(out), &stored));
	cr_assert_str_eq(out, "camera");
	cr_assert_eq(stored, 6);
	cr_assert(pcp_desc_index_get(ix, &k2, out, sizeof(out), &stored), "an empty text is a text");
	cr_assert_eq(pcp_desc_index_count(ix), 2);
	cr_assert_eq(pcp_desc_index_set(ix, &k1, U("NAS \xc3\xa9t\xc3\xa9")), 0);
	cr_assert(pcp_desc_index_get(ix, &k1, out, sizeof(out), &stored));
	cr_assert_str_eq(out, "NAS \\u00e9t\\u00e9", "the readers' form is ASCII");
	cr_assert_eq(pcp_desc_index_count(ix), 2, "replaced, not added");
	pcp_desc_index_del(ix, &k1);
	pcp_desc_index_del(ix, &k1);
	cr_assert_not(pcp_desc_index_get(ix, &k1, out, sizeof(out), NULL));
	cr_assert_eq(pcp_desc_index_count(ix), 1);
	pcp_desc_index_free(ix);
}

Test(desc_index, keeps_the_first_127_octets_at_a_boundary)
{
	struct pcp_desc_index *ix = pcp_desc_index_create(10, sizeof(struct key));
	uint8_t text[1016];
	for (size_t i = 0; i < sizeof(text); i += 2) {
		text[i] = 0xc3;
		text[i + 1] = 0xa9; /* é: 126 is the last boundary under 127 */
	}
	struct key k = { 7, 7 };
	cr_assert_eq(pcp_desc_index_set(ix, &k, text, sizeof(text)), 0);
	char out[1024];
	uint16_t stored;
	cr_assert(pcp_desc_index_get(ix, &k, out, sizeof(out), &stored));
	cr_assert_eq(stored, 1016, "readers learn the stored length");
	cr_assert_eq(strlen(out), 63 * 6, "63 characters of \\u00e9");
	/* and a reader's short buffer takes whole escapes only */
	cr_assert(pcp_desc_index_get(ix, &k, out, 128, NULL));
	cr_assert_eq(strlen(out), 21 * 6);
	pcp_desc_index_free(ix);
}

/* Many keys in few buckets: chains work, every key found. */
Test(desc_index, many_keys)
{
	struct pcp_desc_index *ix = pcp_desc_index_create(1, sizeof(struct key));
	for (uint32_t i = 0; i < 5000; i++) {
		struct key k = { i, ~i };
		char t[32];
		int n = snprintf(t, sizeof(t), "m%u", i);
		cr_assert_eq(pcp_desc_index_set(ix, &k, (const uint8_t *)t, (uint16_t)n), 0);
	}
	cr_assert_eq(pcp_desc_index_count(ix), 5000);
	for (uint32_t i = 0; i < 5000; i += 7) {
		struct key k = { i, ~i };
		char t[32], out[64];
		snprintf(t, sizeof(t), "m%u", i);
		cr_assert(pcp_desc_index_get(ix, &k, out, sizeof(out), NULL));
		cr_assert_str_eq(out, t);
		pcp_desc_index_del(ix, &k);
	}
	cr_assert_eq(pcp_desc_index_count(ix), 5000 - 715);
	pcp_desc_index_free(ix); /* frees the rest: ASan would see a leak */
}

/* A reader on another thread while the control thread replaces and removes texts. */
struct race {
	struct pcp_desc_index *ix;
	volatile bool stop;
	unsigned bad;
};

static void *
reader(void *arg)
{
	struct race *r = arg;
	struct key k = { 1, 1 };
	char out[128];
	for (int i = 0; i < 200000 && !r->stop; i++)
		if (pcp_desc_index_get(r->ix, &k, out, sizeof(out), NULL) && strcmp(out, "aaaa") && strcmp(out, "bbbbbbbb"))
			r->bad++;
	return NULL;
}

Test(desc_index, reader_thread_sees_whole_texts)
{
	struct race r = { pcp_desc_index_create(64, sizeof(struct key)), false, 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, reader, &r), 0);
	struct key k = { 1, 1 };
	for (int i = 0; i < 100000; i++) {
		if (i % 3 == 2)
			pcp_desc_index_del(r.ix, &k);
		else
			pcp_desc_index_set(r.ix, &k, (const uint8_t *)(i & 1 ? "aaaa" : "bbbbbbbb"), i & 1 ? 4 : 8);
	}
	r.stop = true;
	pthread_join(t, NULL);
	cr_assert_eq(r.bad, 0);
	pcp_desc_index_free(r.ix);
}
