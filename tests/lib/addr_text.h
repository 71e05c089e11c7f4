/*
 * Addresses from their text in tests: A("2001:db8::1") (IPv4 text gives the mapped form,
 * cgn_addr_parse), P("64:ff9b::/96"), and F(&a) for messages (one of four rotating buffers,
 * so several may stand in one assertion). A test that gives a text that does not parse fails.
 * Header-only, for Criterion tests; the test's own thread.
 */
#ifndef TEST_ADDR_TEXT_H
#define TEST_ADDR_TEXT_H

#include <criterion/criterion.h>

#include "cgn_addr.h"

static inline struct cgn_addr
A(const char *text)
{
	struct cgn_addr a;
	cr_assert_eq(cgn_addr_parse(text, &a), 0, "%s", text);
	return a;
}

static inline struct cgn_prefix
P(const char *text)
{
	struct cgn_prefix p;
	cr_assert_eq(cgn_prefix_parse(text, &p), 0, "%s", text);
	return p;
}

static inline const char *
F(const struct cgn_addr *a)
{
	static char buf[4][CGN_ADDR_STRLEN];
	static int i;
	i = (i + 1) % 4;
	return cgn_addr_format(a, buf[i], sizeof(buf[i]));
}

#endif /* TEST_ADDR_TEXT_H */
