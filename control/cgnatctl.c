/*
 * cgnatctl: the operator's client of cgnatd's DPDK telemetry socket (/cgnat/ commands, see
 * control/telemetry.h). Prints plain text for people, or --json for programs.
 *
 *   cgnatctl [-p PREFIX | -s SOCKET] [--json] info|stats|pool
 *   cgnatctl [...] subscriber ADDR
 *   cgnatctl [...] mappings [--all] [START [COUNT]]
 *   cgnatctl [...] sessions [--all] [SUBSCRIBER]
 *   cgnatctl [...] worker [N] | neighbours | routes
 *   cgnatctl [...] raw COMMAND[,PARAMS]        any telemetry command, e.g. /eal/params
 *
 * mappings and sessions print, per entry (a PCP mapping's DESCRIPTION, RFC 7220, quoted after
 * its FLAGS), LIFETIME and EXPIRES_IN in seconds: for a PCP,
 * NAT-PMP or PEER mapping the lifetime granted and the time left of it (4294967295: static,
 * never); for an implicit session (FLAGS IMPLICIT only) its idle timeout, by protocol and TCP
 * state, and the idle time left before it expires, which outbound traffic renews. A PCP port
 * set (RFC 7753) is one row with ranges: INTERNAL address:a-b, EXTERNAL address:c-d.
 *
 * Exit status: 0, 1 if cgnatd answered with an error or null, 2 usage, 3 cannot connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REPLY (64 * 1024)

/* ---- a small JSON reader: enough for telemetry replies ------------------------------------ */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	char *s;          /* J_STR text; J_NUM/J_BOOL source text */
	struct jv *kids;  /* J_ARR/J_OBJ members */
	char **keys;      /* J_OBJ member names */
	size_t n;
};

struct jp {
	const char *p, *end;
	int depth;
};

static void
ws(struct jp *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\t' || *jp->p == '\r'))
		jp->p++;
}

/* Four hex digits at p (p has 4 octets), or -1. */
static long
hex4(const char *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Writes code point cp as UTF-8 at out. @return its octets. */
static size_t
put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A JSON string (RFC 8259 §7): every escape, \uXXXX (surrogate pairs joined) as UTF-8; a
 * lone surrogate or U+0000 as U+FFFD (the result is a C string). */
static char *
jstring(struct jp *jp)
{
	if (jp->p >= jp->end || *jp->p != '"')
		return NULL;
	jp->p++;
	/* an escape is never shorter than what it stands for: 6 octets make at most 3 */
	char *out = malloc((size_t)(jp->end - jp->p) + 1);
	size_t n = 0;
	while (jp->p < jp->end && *jp->p != '"') {
		char c = *jp->p++;
		if (c == '\\' && jp->p < jp->end) {
			c = *jp->p++;
			if (c == 'u' && jp->end - jp->p >= 4) {
				long cp = hex4(jp->p);
				if (cp >= 0)
					jp->p += 4;
				if (cp >= 0xd800 && cp <= 0xdbff && jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
				    jp->p[1] == 'u') {
					long lo = hex4(jp->p + 2);
					if (lo >= 0xdc00 && lo <= 0xdfff) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						jp->p += 6;
					}
				}
				if (cp <= 0 || (cp >= 0xd800 && cp <= 0xdfff))
					cp = 0xfffd;
				n += put_utf8(out + n, (unsigned long)cp);
				continue;
			}
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
		}
		out[n++] = c;
	}
	if (jp->p >= jp->end) {
		free(out);
		return NULL;
	}
	jp->p++;
	out[n] = '\0';
	return out;
}

static int jvalue(struct jp *jp, struct jv *v);

/* Frees what a value holds (not the value itself). */
static void
jfree(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jfree(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int
jmembers(struct jp *jp, struct jv *v, char close, bool named)
{
	jp->p++;
	ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		/* The member counts from the start, so that jfree() frees a tree a parse left
		 * half made. */
		struct jv *kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
		if (kids == NULL)
			return -1;
		v->kids = kids;
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		if (keys == NULL)
			return -1;
		v->keys = keys;
		size_t i = v->n++;
		v->keys[i] = NULL;
		memset(&v->kids[i], 0, sizeof(v->kids[i]));
		if (named) {
			ws(jp);
			if ((v->keys[i] = jstring(jp)) == NULL)
				return -1;
			ws(jp);
			if (jp->p >= jp->end || *jp->p++ != ':')
				return -1;
		}
		if (jvalue(jp, &v->kids[i]) < 0)
			return -1;
		ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return 0;
		}
		return -1;
	}
}

static int
jvalue(struct jp *jp, struct jv *v)
{
	memset(v, 0, sizeof(*v));
	ws(jp);
	if (jp->p >= jp->end || ++jp->depth > 32)
		return -1;
	int rc = 0;
	char c = *jp->p;
	if (c == '{') {
		v->t = J_OBJ;
		rc = jmembers(jp, v, '}', true);
	} else if (c == '[') {
		v->t = J_ARR;
		rc = jmembers(jp, v, ']', false);
	} else if (c == '"') {
		v->t = J_STR;
		rc = (v->s = jstring(jp)) ? 0 : -1;
	} else {
		const char *start = jp->p;
		while (jp->p < jp->end && strchr(",}] \n\t\r", *jp->p) == NULL)
			jp->p++;
		v->s = strndup(start, (size_t)(jp->p - start));
		v->t = strcmp(v->s, "null") == 0 ? J_NULL : (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0) ? J_BOOL : J_NUM;
		rc = jp->p > start ? 0 : -1;
	}
	jp->depth--;
	return rc;
}

static const struct jv *
jget(const struct jv *o, const char *key)
{
	if (o == NULL || o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->kids[i];
	return NULL;
}

/* s as the body of a JSON string: '"', '\\' and control characters escaped, UTF-8 kept. */
static void
jwrite_body(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c == '\t')
			printf("\\t");
		else if (c == '\r')
			printf("\\r");
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
}

static void
jwrite_string(const char *s)
{
	putchar('"');
	jwrite_body(s);
	putchar('"');
}

static void
jwrite(const struct jv *v)
{
	switch (v->t) {
	case J_STR:
		jwrite_string(v->s);
		break;
	case J_ARR:
	case J_OBJ:
		putchar(v->t == J_ARR ? '[' : '{');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				printf(", ");
			if (v->t == J_OBJ) {
				jwrite_string(v->keys[i]);
				printf(": ");
			}
			jwrite(&v->kids[i]);
		}
		putchar(v->t == J_ARR ? ']' : '}');
		break;
	default:
		fputs(v->s, stdout);
	}
}

/* People's view: "key: value" lines, nested values indented. */
static void
jprint(const struct jv *v, int indent)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct jv *k = &v->kids[i];
		printf("%*s", indent, "");
		if (v->t == J_OBJ)
			printf("%s:", v->keys[i]);
		else
			printf("-");
		if (k->t == J_ARR || k->t == J_OBJ) {
			printf("\n");
			jprint(k, indent + 2);
		} else {
			printf(" %s\n", k->s);
		}
	}
}

/* ---- the telemetry socket ------------------------------------------------------------------ */

static int
connect_socket(const char *path, char *info, size_t info_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "cgnatctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "cgnatctl: cannot connect to %s: %s (is cgnatd running with this file prefix?)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* The server greets with its version and output limit. */
	ssize_t n = read(fd, info, info_len - 1);
	if (n <= 0) {
		fprintf(stderr, "cgnatctl: %s closed the connection (too many clients?)\n", path);
		close(fd);
		return -1;
	}
	info[n] = '\0';
	return fd;
}

static int
query(int fd, const char *cmd, char *reply, size_t len, struct jv *out)
{
	if (write(fd, cmd, strlen(cmd)) < 0) {
		perror("cgnatctl: write");
		return -1;
	}
	ssize_t n = read(fd, reply, len - 1);
	if (n <= 0) {
		fprintf(stderr, "cgnatctl: no reply to %s\n", cmd);
		return -1;
	}
	reply[n] = '\0';
	struct jp jp = { reply, reply + n, 0 };
	struct jv top;
	if (jvalue(&jp, &top) < 0 || top.t != J_OBJ || top.n != 1) {
		fprintf(stderr, "cgnatctl: unreadable reply to %s: %s\n", cmd, reply);
		jfree(&top);
		return -1;
	}
	*out = top.kids[0]; /* the caller's to jfree() */
	memset(&top.kids[0], 0, sizeof(top.kids[0]));
	jfree(&top);
	if (out->t == J_NULL) {
		fprintf(stderr, "cgnatctl: %s: cgnatd rejected the command or its parameters\n", cmd);
		jfree(out);
		return 1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: cgnatctl [-p PREFIX | -s SOCKET] [-j] COMMAND\n"
		"\n"
		"commands:\n"
		"  info                       version, epoch, workers, pool\n"
		"  stats                      every counter by name\n"
		"  logging                    NAT logging: events, losses, each destination's counters\n"
		"  subscriber ADDR            one subscriber: external address, port blocks, quota use\n"
		"  pool [START]               port blocks in use per pool address\n"
		"  worker [N]                 one worker's packet and drop counters\n"
		"  mappings [-a] [START [N]]  the shared table, N (<= 48) from START; -a: all pages\n"
		"  sessions [-a] [ADDR]       the same (every mapping and implicit session), one subscriber's\n"
		"  neighbours                 the neighbour (ARP and ND) table: address, port, MAC, state\n"
		"  routes                     the route tables (IPv4 and IPv6): prefix, table, port, via\n"
		"  raw COMMAND[,PARAMS]       any telemetry command, e.g. /eal/params\n"
		"\n"
		"options:\n"
		"  -p, --prefix PREFIX   cgnatd's EAL file prefix (default cgnat)\n"
		"  -s, --socket PATH     the telemetry socket itself\n"
		"  -j, --json            JSON output\n"
		"  -a, --all             mappings: follow 'next' through every page\n"
		"\n"
		"mappings and sessions, in seconds: LIFETIME is the lifetime granted (PCP, NAT-PMP, PEER)\n"
		"or, for an implicit session, its idle timeout; EXPIRES_IN is the time left, for an\n"
		"implicit session the idle time left (outbound traffic renews it); 4294967295: never.\n"
		"A PCP port set (RFC 7753) is one row: INTERNAL ADDR:A-B, EXTERNAL ADDR:C-D.\n");
}

/* A table of rows: a page holds one dict per row, named PREFIX_N. */
struct rows {
	const char *prefix;        /* "mapping_" */
	const char *const *cols;   /* keys of a row's dict */
	const char *const *heads;  /* column titles */
	const int *widths;         /* negative: left-aligned */
	int n;
};

static const struct rows mapping_rows = {
	"mapping_",
	(const char *const[]){ "proto", "internal", "external", "lifetime_s", "expires_in_s", "flags" },
	(const char *const[]){ "PROTO", "INTERNAL", "EXTERNAL", "LIFETIME", "EXPIRES_IN", "FLAGS" },
	(const int[]){ -5, -40, -22, 10, 12, 0 }, 6
};
static const struct rows neighbour_rows = {
	"neighbour_",
	(const char *const[]){ "address", "port", "mac", "state", "kind", "heard_ms_ago" },
	(const char *const[]){ "ADDRESS", "PORT", "MAC", "STATE", "KIND", "HEARD_MS_AGO" },
	(const int[]){ -16, -20, -18, -11, -8, 0 }, 6
};
static const struct rows route_rows = {
	"route_",
	(const char *const[]){ "prefix", "table", "port", "via" },
	(const char *const[]){ "PREFIX", "TABLE", "PORT", "VIA" },
	(const int[]){ -19, -8, -20, 0 }, 4
};

static void
print_row(const struct rows *r, const char *const *v)
{
	for (int c = 0; c < r->n; c++)
		printf(c + 1 < r->n ? "%*s " : "%*s\n", r->widths[c], v[c]);
}

/*
 * A mapping's DESCRIPTION (RFC 7220): cgnatd sends it as an ASCII JSON string body (DPDK's
 * telemetry strings cannot carry control characters or UTF-8 safely, control/telemetry.c):
 * made text again in place, so that --json writes it as JSON and people read it.
 */
static void
decode_descriptions(struct jv *page)
{
	for (size_t i = 0; i < page->n; i++) {
		struct jv *d = (struct jv *)jget(&page->kids[i], "description");
		if (d == NULL || d->t != J_STR)
			continue;
		size_t len = strlen(d->s);
		char *quoted = malloc(len + 3);
		if (quoted == NULL)
			continue;
		quoted[0] = '"';
		memcpy(quoted + 1, d->s, len);
		quoted[len + 1] = '"';
		quoted[len + 2] = '\0';
		struct jp jp = { quoted, quoted + len + 2, 0 };
		char *text = jstring(&jp);
		free(quoted);
		if (text) {
			free(d->s);
			d->s = text;
		}
	}
}

static void
print_rows(const struct rows *r, const struct jv *page, bool header)
{
	if (header)
		print_row(r, r->heads);
	size_t plen = strlen(r->prefix);
	for (size_t i = 0; i < page->n; i++) {
		if (strncmp(page->keys[i], r->prefix, plen) != 0)
			continue;
		const struct jv *m = &page->kids[i];
		const char *v[8];
		for (int c = 0; c < r->n && c < 8; c++) {
			const struct jv *f = jget(m, r->cols[c]);
			v[c] = f && f->s ? f->s : "-";
		}
		const struct jv *d = r == &mapping_rows ? jget(m, "description") : NULL;
		if (d == NULL || d->s == NULL) {
			print_row(r, v);
			continue;
		}
		/* a mapping's DESCRIPTION after its FLAGS, quoted; "..." when cgnatd showed only
		 * its first octets (description_len: the octets stored) */
		for (int c = 0; c < r->n; c++)
			printf(c + 1 < r->n ? "%*s " : "%*s", r->widths[c], v[c]);
		const struct jv *dl = jget(m, "description_len");
		size_t stored = dl && dl->s ? strtoul(dl->s, NULL, 10) : 0;
		printf(" \"");
		jwrite_body(d->s);
		printf("\"%s\n", strlen(d->s) < stored ? "..." : "");
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prefix", required_argument, NULL, 'p' }, { "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },         { "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *prefix = "cgnat", *sock = NULL;
	bool json = false, all = false;
	char path[256], info[1024];
	static char reply[MAX_REPLY];
	int c;

	while ((c = getopt_long(argc, argv, "p:s:jah", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			prefix = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;

	if (sock == NULL) {
		const char *run = getenv("XDG_RUNTIME_DIR");
		if (getuid() == 0 || run == NULL)
			snprintf(path, sizeof(path), "%s/dpdk/%s/dpdk_telemetry.v2", getuid() == 0 ? "/var/run" : "/tmp", prefix);
		else
			snprintf(path, sizeof(path), "%s/dpdk/%s/dpdk_telemetry.v2", run, prefix);
		sock = path;
	}

	char request[128];
	bool mappings = false;
	const struct rows *rows = NULL; /* a table command: neighbours, routes */
	uint32_t start = 0, count = 0;
	const char *subscriber = NULL;
	if (strcmp(cmd, "info") == 0 || strcmp(cmd, "stats") == 0 || strcmp(cmd, "logging") == 0) {
		if (nargs) {
			usage(stderr);
			return 2;
		}
		snprintf(request, sizeof(request), "/cgnat/%s", cmd);
	} else if (strcmp(cmd, "subscriber") == 0 && nargs == 1) {
		snprintf(request, sizeof(request), "/cgnat/subscriber,%s", args[0]);
	} else if (strcmp(cmd, "worker") == 0 && nargs <= 1) {
		snprintf(request, sizeof(request), "/cgnat/worker,%s", nargs ? args[0] : "0");
	} else if (strcmp(cmd, "pool") == 0 && nargs <= 1) {
		snprintf(request, sizeof(request), "/cgnat/pool%s%s", nargs ? "," : "", nargs ? args[0] : "");
	} else if (strcmp(cmd, "mappings") == 0 || strcmp(cmd, "sessions") == 0) {
		mappings = true;
		/* sessions [SUBSCRIBER] | mappings [START [N]] */
		if (strcmp(cmd, "sessions") == 0 && nargs == 1 && strpbrk(args[0], ".:") != NULL) { /* an address */
			subscriber = args[0];
		} else if (nargs > 2) {
			usage(stderr);
			return 2;
		} else {
			start = nargs > 0 ? (uint32_t)strtoul(args[0], NULL, 10) : 0;
			count = nargs > 1 ? (uint32_t)strtoul(args[1], NULL, 10) : 0;
		}
	} else if (strcmp(cmd, "neighbours") == 0 && nargs == 0) {
		rows = &neighbour_rows;
	} else if (strcmp(cmd, "routes") == 0 && nargs == 0) {
		rows = &route_rows;
		snprintf(request, sizeof(request), "/cgnat/routes");
	} else if (strcmp(cmd, "raw") == 0 && nargs == 1) {
		snprintf(request, sizeof(request), "%s", args[0]);
	} else {
		fprintf(stderr, "cgnatctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}

	int fd = connect_socket(sock, info, sizeof(info));
	if (fd < 0)
		return 3;

	struct jv v;
	int rc;
	if (rows) { /* every page (neighbours follow 'next'; routes are one page) */
		if (json)
			printf("[");
		for (uint32_t next = 0, first = 1;; first = 0) {
			if (rows == &neighbour_rows)
				snprintf(request, sizeof(request), "/cgnat/neighbours,%u", next);
			if ((rc = query(fd, request, reply, sizeof(reply), &v)) != 0)
				return 1;
			if (json) {
				printf(first ? "" : ", ");
				jwrite(&v);
			} else {
				print_rows(rows, &v, first);
			}
			const struct jv *n = jget(&v, "next");
			next = n && n->s ? (uint32_t)strtoul(n->s, NULL, 10) : 0;
			jfree(&v);
			if (next == 0)
				break;
		}
		if (json)
			printf("]\n");
		close(fd);
		return 0;
	}
	if (!mappings) {
		if ((rc = query(fd, request, reply, sizeof(reply), &v)) != 0)
			return 1;
		if (json) {
			jwrite(&v);
			putchar('\n');
		} else if (v.t == J_OBJ || v.t == J_ARR) {
			jprint(&v, 0);
		} else {
			printf("%s\n", v.s);
		}
		jfree(&v);
		close(fd);
		return 0;
	}

	/* Mappings: one page, or every page following "next". */
	bool header = true;
	if (json)
		printf("[");
	for (bool first = true;; first = false) {
		if (subscriber)
			snprintf(request, sizeof(request), "/cgnat/mappings,%u,%u,%s", start, 48u, subscriber);
		else if (count)
			snprintf(request, sizeof(request), "/cgnat/mappings,%u,%u", start, count);
		else
			snprintf(request, sizeof(request), "/cgnat/mappings,%u", start);
		if ((rc = query(fd, request, reply, sizeof(reply), &v)) != 0)
			return 1;
		decode_descriptions(&v);
		if (json) {
			if (!first)
				printf(", ");
			jwrite(&v);
		} else {
			print_rows(&mapping_rows, &v, header);
			header = false;
		}
		const struct jv *next = jget(&v, "next");
		start = next && next->s ? (uint32_t)strtoul(next->s, NULL, 10) : 0;
		jfree(&v);
		if (!all || start == 0)
			break;
	}
	if (json)
		printf("]\n");
	close(fd);
	return 0;
}
