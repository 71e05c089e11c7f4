/*
 * The codec's registry tables (common/pcp_registry.h) against IANA's own files in
 * ../shared/spec/: pcp-options-registry.csv and pcp-result-codes-registry.txt, row by row.
 * A missing file is a failure, not a skip: set CGN_SPEC_DIR if the files live elsewhere.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcp_registry.h"

static char *
slurp(const char *name)
{
	char path[1024];
	const char *dir = getenv("CGN_SPEC_DIR") ? getenv("CGN_SPEC_DIR") : SPEC_DIR;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s (set CGN_SPEC_DIR to the folder holding the IANA files)", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Splits one CSV record (RFC 4180 quoting) starting at *p into fields; advances *p. */
static int
csv_record(char **p, char fields[][512], int max)
{
	int n = 0;
	char *s = *p;
	if (*s == '\0')
		return 0;
	for (;;) {
		size_t k = 0;
		char *out = fields[n];
		if (*s == '"') {
			s++;
			while (*s && !(*s == '"' && s[1] != '"')) {
				if (*s == '"')
					s++;
				if (k < 511)
					out[k++] = *s;
				s++;
			}
			if (*s == '"')
				s++;
		} else {
			while (*s && *s != ',' && *s != '\n' && *s != '\r') {
				if (k < 511)
					out[k++] = *s;
				s++;
			}
		}
		out[k] = '\0';
		if (n < max - 1)
			n++;
		if (*s == ',') {
			s++;
			continue;
		}
		while (*s == '\r' || *s == '\n')
			s++;
		break;
	}
	*p = s;
	return n;
}

static uint8_t
opcode_mask(const char *text)
{
	uint8_t mask = 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
		int found = 0;
		for (int op = 0; op < PCP_OP_COUNT; op++)
			if (strcmp(tok, pcp_opcode_name((uint8_t)op)) == 0) {
				mask |= (uint8_t)(1u << op);
				found = 1;
			}
		cr_assert(found, "unknown opcode '%s' in the registry", tok);
	}
	return mask;
}

static void
check_length(const struct pcp_option_desc *d, const char *text)
{
	const char *max = strstr(text, "maximum");
	if (max) {
		cr_assert_eq(d->len_kind, PCP_LEN_MAX, "%s: registry says '%s'", d->name, text);
		cr_assert_eq(d->len, (uint16_t)strtoul(max + strlen("maximum"), NULL, 10), "%s: '%s'", d->name, text);
	} else if (strncasecmp(text, "variable", 8) == 0) {
		cr_assert_eq(d->len_kind, PCP_LEN_VARIABLE, "%s: registry says '%s'", d->name, text);
	} else {
		cr_assert(isdigit((unsigned char)text[0]), "%s: unreadable length '%s'", d->name, text);
		cr_assert_eq(d->len_kind, PCP_LEN_FIXED, "%s: registry says '%s'", d->name, text);
		cr_assert_eq(d->len, (uint16_t)strtoul(text, NULL, 10), "%s: registry says '%s'", d->name, text);
	}
}

static void
check_where(const struct pcp_option_desc *d, const char *text)
{
	enum pcp_opt_where want = PCP_IN_BOTH;
	if (strstr(text, "only if it appeared in the associated request"))
		want = PCP_IN_REQ_ECHO;
	else if (strcasecmp(text, "Response.") == 0)
		want = PCP_IN_RESP;
	else if (strcasecmp(text, "Request and response.") == 0 || strcasecmp(text, "request, response") == 0)
		want = PCP_IN_BOTH;
	else
		cr_assert_fail("%s: unreadable 'May appear in': '%s'", d->name, text);
	cr_assert_eq(d->where, want, "%s: registry says '%s'", d->name, text);
}

static void
check_occurrences(const struct pcp_option_desc *d, const char *text)
{
	unsigned req = 0, resp = 0;
	if (strcmp(text, "1") == 0) {
		req = resp = 1;
	} else if (strncmp(text, "As many as fit", 14) == 0) {
		req = resp = PCP_OCC_ANY;
	} else if (strncmp(text, "1 for a request.", 16) == 0 && strstr(text, "As many as fit")) {
		req = 1;
		resp = PCP_OCC_ANY;
	} else {
		cr_assert_fail("%s: unreadable maximum occurrences '%s'", d->name, text);
	}
	cr_assert_eq(d->max_in_request, req, "%s: registry says '%s'", d->name, text);
	cr_assert_eq(d->max_in_response, resp, "%s: registry says '%s'", d->name, text);
}

Test(registry, options_match_iana_csv)
{
	char *csv = slurp("pcp-options-registry.csv"), *p = csv;
	static char f[16][512];
	bool listed[256] = { false };
	int rows = 0;

	int n = csv_record(&p, f, 16);
	cr_assert_eq(n, 8, "header: Value,Name,Purpose,Valid for Opcodes,Length,May Appear in,Maximum Occurrences,Reference");
	cr_assert_str_eq(f[0], "Value");
	while ((n = csv_record(&p, f, 16)) > 0) {
		cr_assert_eq(n, 8, "row %d has %d fields", rows + 1, n);
		rows++;
		unsigned lo, hi;
		if (sscanf(f[0], "%u-%u", &lo, &hi) != 2)
			hi = lo = (unsigned)strtoul(f[0], NULL, 10);
		bool assigned = strcmp(f[1], "Reserved") != 0 && strcmp(f[1], "Unassigned") != 0 &&
				strncmp(f[1], "Reserved for", 12) != 0;
		for (unsigned code = lo; code <= hi; code++) {
			const struct pcp_option_desc *d = pcp_option_desc((uint8_t)code);
			listed[code] = true;
			if (!assigned) {
				cr_assert_null(d, "code %u is '%s' at IANA but the codec knows it", code, f[1]);
				continue;
			}
			cr_assert_not_null(d, "IANA assigns %u (%s); the codec does not know it", code, f[1]);
			cr_assert_str_eq(d->name, f[1]);
			cr_assert_eq(d->opcodes, opcode_mask(f[3]), "%s: valid opcodes '%s'", d->name, f[3]);
			check_length(d, f[4]);
			check_where(d, f[5]);
			check_occurrences(d, f[6]);
		}
	}
	cr_assert_gt(rows, 20);
	for (int code = 0; code < 256; code++)
		cr_assert(listed[code], "code %d missing from the CSV", code);
	free(csv);
}

/* Folds runs of white space to one space, in place. */
static void
fold(char *s)
{
	char *o = s;
	for (char *i = s; *i; i++) {
		if (isspace((unsigned char)*i)) {
			if (o > s && o[-1] != ' ')
				*o++ = ' ';
		} else {
			*o++ = *i;
		}
	}
	*o = '\0';
}

Test(registry, result_codes_match_iana_txt)
{
	char *txt = slurp("pcp-result-codes-registry.txt");
	fold(txt);
	bool listed[256] = { false };
	int assigned = 0;

	/* Records look like "| 7 | NETWORK_FAILURE | description ... | [RFC6887] |"; a record runs
	 * to the start of the next one. First find where each record starts. */
	static char *starts[512];
	static unsigned lo_of[512], hi_of[512];
	static int used_of[512];
	int n = 0;
	for (char *p = txt; (p = strstr(p, "| ")) != NULL && n < 511; p++) {
		unsigned lo, hi;
		int used = 0;
		if (sscanf(p + 2, "%u-%u |%n", &lo, &hi, &used) == 2 && used) {
		} else if (used = 0, sscanf(p + 2, "%u |%n", &lo, &used) == 1 && used) {
			hi = lo;
		} else {
			continue;
		}
		starts[n] = p;
		lo_of[n] = lo;
		hi_of[n] = hi;
		used_of[n] = used;
		n++;
	}
	starts[n] = txt + strlen(txt);

	for (int r = 0; r < n; r++) {
		char *name = starts[r] + 2 + used_of[r];
		while (*name == ' ')
			name++;
		char *bar = strchr(name, '|');
		cr_assert(bar && bar < starts[r + 1], "record %d has no name cell", r);
		char nm[64];
		snprintf(nm, sizeof(nm), "%.*s", (int)(bar - name), name);
		for (char *e = nm + strlen(nm); e > nm && e[-1] == ' ';)
			*--e = '\0';
		char desc[2048];
		snprintf(desc, sizeof(desc), "%.*s", (int)(starts[r + 1] - bar), bar);

		for (unsigned code = lo_of[r]; code <= hi_of[r] && code < 256; code++) {
			listed[code] = true;
			if (strncmp(nm, "Unassigned", 10) == 0 || strncmp(nm, "Reserved", 8) == 0) {
				cr_assert_null(pcp_result_name((uint8_t)code), "code %u is '%s' at IANA", code, nm);
				continue;
			}
			assigned++;
			cr_assert_not_null(pcp_result_name((uint8_t)code), "IANA assigns %u (%s)", code, nm);
			cr_assert_str_eq(pcp_result_name((uint8_t)code), nm);
			enum pcp_lifetime_class want = strstr(desc, "long lifetime error")    ? PCP_LT_LONG
						     : strstr(desc, "short lifetime error")  ? PCP_LT_SHORT
						     : strstr(desc, "depends on the reason") ? PCP_LT_DEPENDS
											     : PCP_LT_NONE;
			cr_assert_eq(pcp_result_class((uint8_t)code), want, "%s: lifetime class", nm);
		}
	}
	cr_assert_eq(assigned, 27, "IANA assigns result codes 0 to 26");
	for (int code = 0; code < 256; code++)
		cr_assert(listed[code], "result code %d missing from the registry file", code);
	free(txt);
}

Test(registry, opcodes)
{
	cr_assert_str_eq(pcp_opcode_name(0), "ANNOUNCE");
	cr_assert_str_eq(pcp_opcode_name(1), "MAP");
	cr_assert_str_eq(pcp_opcode_name(2), "PEER");
	cr_assert_str_eq(pcp_opcode_name(3), "AUTHENTICATION");
	cr_assert_null(pcp_opcode_name(4));
	cr_assert_null(pcp_opcode_name(127));
}
