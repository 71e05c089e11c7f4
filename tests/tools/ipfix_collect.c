/*
 * ipfix_collect: a small IPFIX collector for the tests of the IPFIX sink (control/log_ipfix.c),
 * built on libfixbuf's reading side. It owns its socket (UDP, or TCP with any number of
 * connections one after another or at once), hands each IPFIX Message it reads to libfixbuf
 * (fBufSetBuffer: a collector without fbCollector) and prints, one line each:
 *
 *   ready proto=udp port=4739
 *   message domain=1 seq=0 len=312 peer=1
 *   template domain=1 id=256 fields=observationTimeMilliseconds/8,natEvent/1,...
 *   record domain=1 template=256 observationTimeMilliseconds=1700000000123 natEvent=4 ...
 *   end records=12 messages=3 reason=count|timeout
 *
 * Values: unsigned integers and dateTimeMilliseconds in decimal, addresses as text, anything
 * else in hex. peer numbers the TCP connections (1, 2, ...); UDP is peer 1. With -w it also
 * writes every message it read to a pcap file, each in a synthetic Ethernet/IPv4/UDP packet
 * to port 4739, so that tshark's IPFIX dissector can decode it.
 *
 * Bounded: it exits after -n data records (0: no limit) or -T seconds, whichever comes first,
 * or at SIGTERM/SIGINT (what it read is printed and the pcap closed: a test stops it once the
 * exporter is gone); exit status 0 if it got the records it was told to wait for (or -n 0), 2
 * on timeout, 1 on an error. One thread.
 *
 *   ipfix_collect -u|-t [-a ADDR] -p PORT [-n RECORDS] [-T SECONDS] [-w FILE.pcap]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fixbuf/public.h>
#include <pcap/pcap.h>

#define MAX_PEERS 8
#define MSG_MAX 65535
#define IPFIX_PORT 4739

struct peer {
	int fd;
	unsigned id;
	fBuf_t *fbuf;
	size_t have;
	uint8_t buf[MSG_MAX];
};

static struct {
	fbInfoModel_t *model;
	bool tcp;
	unsigned long want;
	unsigned long records, messages;
	pcap_dumper_t *pcap;
	unsigned next_peer_id;
} g;

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint16_t
ip_cksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/** Writes one IPFIX message into the pcap as Ethernet/IPv4/UDP to port 4739. */
static void
pcap_write(const uint8_t *msg, size_t len, unsigned peer)
{
	static uint8_t pkt[14 + 20 + 8 + MSG_MAX];
	struct pcap_pkthdr h;
	struct timeval tv;
	uint8_t *ip = pkt + 14, *udp = ip + 20;
	size_t iplen = 20 + 8 + len;

	if (g.pcap == NULL || iplen > 65535)
		return;
	memset(pkt, 0, 14 + 28);
	memcpy(pkt, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, "\xc0\x00\x02\x01", 4); /* 192.0.2.1: the exporter */
	memcpy(ip + 16, "\xc0\x00\x02\x02", 4); /* 192.0.2.2: us */
	uint16_t ck = ip_cksum(ip, 20);
	ip[10] = ck >> 8;
	ip[11] = ck & 0xff;
	udp[0] = (40000 + peer) >> 8; /* one source port per transport session */
	udp[1] = (40000 + peer) & 0xff;
	udp[2] = IPFIX_PORT >> 8;
	udp[3] = IPFIX_PORT & 0xff;
	udp[4] = (8 + len) >> 8;
	udp[5] = (8 + len) & 0xff; /* checksum 0: none (IPv4) */
	memcpy(udp + 8, msg, len);
	gettimeofday(&tv, NULL);
	h.ts = tv;
	h.caplen = h.len = (bpf_u_int32)(14 + iplen);
	pcap_dump((u_char *)g.pcap, &h, pkt);
	pcap_dump_flush(g.pcap);
}

static void
new_template(fbSession_t *session, uint16_t tid, fbTemplate_t *tmpl, void *app_ctx, void **tmpl_ctx,
	     fbTemplateCtxFree_fn *free_fn)
{
	(void)app_ctx;
	(void)tmpl_ctx;
	(void)free_fn;
	printf("template domain=%" PRIu32 " id=%u fields=", fbSessionGetDomain(session), tid);
	for (uint32_t i = 0; i < fbTemplateCountElements(tmpl); i++) {
		const fbInfoElement_t *ie = fbTemplateGetIndexedIE(tmpl, i);
		printf("%s%s/%u", i ? "," : "", ie->ref.canon->ref.name, ie->len);
	}
	printf("\n");
}

/** The internal template of an external one: the same IEs, lengths and order. */
static bool
internal_for(fBuf_t *fbuf, uint16_t tid, fbTemplate_t *ext)
{
	fbSession_t *session = fBufGetSession(fbuf);
	GError *err = NULL;

	/* Built once per session and template ID (this tool's exporters never change one). */
	if (fbSessionGetTemplate(session, TRUE, tid, NULL) == NULL) {
		fbTemplate_t *t = fbTemplateAlloc(g.model);
		for (uint32_t i = 0; i < fbTemplateCountElements(ext); i++) {
			fbInfoElement_t ie = *fbTemplateGetIndexedIE(ext, i);
			ie.ref.name = ie.ref.canon->ref.name;
			ie.midx = 0;
			if (!fbTemplateAppend(t, &ie, &err))
				goto fail;
		}
		if (fbSessionAddTemplate(session, TRUE, tid, t, &err) == 0)
			goto fail;
	}
	if (!fBufSetInternalTemplate(fbuf, tid, &err))
		goto fail;
	return true;
fail:
	fprintf(stderr, "ipfix_collect: template %u: %s\n", tid, err ? err->message : "?");
	g_clear_error(&err);
	return false;
}

static void
print_value(const fbInfoElement_t *ie, const uint8_t *p)
{
	char text[INET6_ADDRSTRLEN];
	uint64_t v = 0;

	switch (ie->type) {
	case FB_UINT_8:
	case FB_UINT_16:
	case FB_UINT_32:
	case FB_UINT_64:
	case FB_DT_MILSEC:
	case FB_DT_SEC:
		/* The record's fields are packed (libfixbuf's internal template has no padding):
		 * read them by memcpy, never through a wider pointer (misaligned). */
		if (ie->len == 1) {
			v = p[0];
		} else if (ie->len == 2) {
			uint16_t x;
			memcpy(&x, p, 2);
			v = x;
		} else if (ie->len == 4) {
			uint32_t x;
			memcpy(&x, p, 4);
			v = x;
		} else if (ie->len == 8) {
			memcpy(&v, p, 8);
		} else {
			break;
		}
		printf("%" PRIu64, v);
		return;
	case FB_IP4_ADDR: {
		uint32_t a;
		memcpy(&a, p, 4);
		a = htonl(a);
		printf("%s", inet_ntop(AF_INET, &a, text, sizeof(text)));
		return;
	}
	case FB_IP6_ADDR:
		printf("%s", inet_ntop(AF_INET6, p, text, sizeof(text)));
		return;
	default:
		break;
	}
	printf("0x");
	for (unsigned i = 0; i < ie->len; i++)
		printf("%02x", p[i]);
}

/** Reads every record of the message just set on fbuf. */
static void
read_records(fBuf_t *fbuf)
{
	static uint8_t rec[MSG_MAX];
	GError *err = NULL;

	for (;;) {
		uint16_t tid;
		fbTemplate_t *ext = fBufNextCollectionTemplate(fbuf, &tid, &err);
		if (ext == NULL)
			break;
		if (!internal_for(fbuf, tid, ext))
			break;
		size_t len = sizeof(rec);
		if (!fBufNext(fbuf, rec, &len, &err))
			break;
		printf("record domain=%" PRIu32 " template=%u", fbSessionGetDomain(fBufGetSession(fbuf)), tid);
		size_t off = 0;
		for (uint32_t i = 0; i < fbTemplateCountElements(ext); i++) {
			const fbInfoElement_t *ie = fbTemplateGetIndexedIE(ext, i);
			printf(" %s=", ie->ref.canon->ref.name);
			if (off + ie->len <= len)
				print_value(ie, rec + off);
			off += ie->len;
		}
		printf("\n");
		g.records++;
	}
	if (err != NULL && !g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ) &&
	    !g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM))
		fprintf(stderr, "ipfix_collect: %s\n", err->message);
	g_clear_error(&err);
}

static fBuf_t *
new_fbuf(void)
{
	fbSession_t *session = fbSessionAlloc(g.model);
	fbSessionAddNewTemplateCallback(session, new_template, NULL);
	fBuf_t *fbuf = fBufAllocForCollection(session, NULL);
	fBufSetAutomaticMode(fbuf, FALSE);
	return fbuf;
}

/** One whole IPFIX message from peer: print its header, pcap it, decode it. */
static void
message(struct peer *p, uint8_t *msg, size_t len)
{
	uint32_t seq, domain;

	memcpy(&seq, msg + 8, 4);
	memcpy(&domain, msg + 12, 4);
	printf("message domain=%" PRIu32 " seq=%" PRIu32 " len=%zu peer=%u\n", ntohl(domain), ntohl(seq),
	       len, p->id);
	g.messages++;
	pcap_write(msg, len, p->id);
	fBufSetBuffer(p->fbuf, msg, len);
	read_records(p->fbuf);
	fflush(stdout);
}

/** TCP: consumes the whole messages in p->buf. @return false if the stream is not IPFIX. */
static bool
tcp_messages(struct peer *p)
{
	size_t off = 0;

	while (p->have - off >= 4) {
		uint16_t ver = (uint16_t)(p->buf[off] << 8 | p->buf[off + 1]);
		size_t len = (size_t)(p->buf[off + 2] << 8 | p->buf[off + 3]);
		if (ver != 10 || len < 16)
			return false;
		if (p->have - off < len)
			break;
		message(p, p->buf + off, len);
		off += len;
	}
	memmove(p->buf, p->buf + off, p->have - off);
	p->have -= off;
	return true;
}

static void
peer_close(struct peer *p)
{
	close(p->fd);
	p->fd = -1;
	fBufFree(p->fbuf);
	p->fbuf = NULL;
	printf("closed peer=%u\n", p->id);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *pcap_path = NULL;
	unsigned port = 0, timeout_s = 10;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	static struct peer peers[MAX_PEERS];
	int opt, lfd, one = 1, rc = 1;
	bool proto_set = false;

	while ((opt = getopt(argc, argv, "uta:p:n:T:w:")) != -1) {
		switch (opt) {
		case 'u': g.tcp = false; proto_set = true; break;
		case 't': g.tcp = true; proto_set = true; break;
		case 'a': addr = optarg; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': g.want = strtoul(optarg, NULL, 10); break;
		case 'T': timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': pcap_path = optarg; break;
		default: goto usage;
		}
	}
	if (!proto_set || port == 0 || port > 65535 || timeout_s == 0 ||
	    inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		goto usage;
	sin.sin_port = htons((uint16_t)port);
	setvbuf(stdout, NULL, _IOLBF, 0);

	g.model = fbInfoModelAlloc();
	if (pcap_path != NULL) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
		g.pcap = pcap_dump_open(dead, pcap_path);
		if (g.pcap == NULL) {
			fprintf(stderr, "ipfix_collect: %s: %s\n", pcap_path, pcap_geterr(dead));
			return 1;
		}
	}
	lfd = socket(AF_INET, (g.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || (g.tcp && listen(lfd, 4) != 0)) {
		fprintf(stderr, "ipfix_collect: %s:%u: %s\n", addr, port, strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < MAX_PEERS; i++)
		peers[i].fd = -1;
	if (!g.tcp) {
		peers[0].fd = lfd;
		peers[0].id = ++g.next_peer_id;
		peers[0].fbuf = new_fbuf();
	}
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready proto=%s port=%u\n", g.tcp ? "tcp" : "udp", port);

	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	const char *reason = "timeout";
	while (now_ms() < deadline) {
		if (stop_signal) {
			reason = "signal";
			break;
		}
		struct pollfd pfd[MAX_PEERS + 1];
		unsigned n = 0, map[MAX_PEERS + 1];

		if (g.want > 0 && g.records >= g.want) {
			reason = "count";
			break;
		}
		if (g.tcp) {
			pfd[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			map[n++] = MAX_PEERS;
		}
		for (unsigned i = 0; i < MAX_PEERS; i++) {
			if (peers[i].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = peers[i].fd, .events = POLLIN };
				map[n++] = i;
			}
		}
		int left = (int)(deadline - now_ms());
		if (poll(pfd, n, left > 0 ? left : 0) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned k = 0; k < n; k++) {
			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (map[k] == MAX_PEERS) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				unsigned i;
				for (i = 0; i < MAX_PEERS && peers[i].fd >= 0; i++)
					;
				if (fd < 0)
					continue;
				if (i == MAX_PEERS) {
					close(fd);
					continue;
				}
				peers[i].fd = fd;
				peers[i].id = ++g.next_peer_id;
				peers[i].have = 0;
				peers[i].fbuf = new_fbuf();
				printf("connected peer=%u\n", peers[i].id);
				continue;
			}
			struct peer *p = &peers[map[k]];
			if (!g.tcp) {
				ssize_t r = recv(p->fd, p->buf, sizeof(p->buf), 0);
				if (r >= 16)
					message(p, p->buf, (size_t)r);
				continue;
			}
			ssize_t r = recv(p->fd, p->buf + p->have, sizeof(p->buf) - p->have, 0);
			if (r <= 0) {
				peer_close(p);
				continue;
			}
			p->have += (size_t)r;
			if (!tcp_messages(p)) {
				fprintf(stderr, "ipfix_collect: peer %u: not an IPFIX stream\n", p->id);
				peer_close(p);
			}
		}
	}
	if (g.want > 0 && g.records >= g.want)
		reason = "count";
	rc = (g.want == 0 || g.records >= g.want) ? 0 : 2;
	printf("end records=%lu messages=%lu reason=%s\n", g.records, g.messages, reason);
	if (g.pcap != NULL)
		pcap_dump_close(g.pcap);
	return rc;

usage:
	fprintf(stderr, "usage: ipfix_collect -u|-t [-a ADDR] -p PORT [-n RECORDS] [-T SECONDS] [-w FILE.pcap]\n");
	return 1;
}
