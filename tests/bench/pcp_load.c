/*
 * pcp_load: a PCP MAP load generator for scripts/bench_pcp.sh (a benchmark, never a test).
 *
 * Sends MAP requests for S subscribers x M internal ports each, W at a time with sendmmsg, and
 * reads the answers with recvmmsg. Prints one line: requests, answers, successes, seconds, rate.
 * The server's family decides the subscribers' source addresses, chosen per packet from one
 * socket: IPv4 127.B.x.y (IP_PKTINFO), IPv6 2001:db8:SSSS:SS00::1, one /56 each, the default
 * NAT64 subscriber (IPV6_PKTINFO; the socket is IPV6_FREEBIND and the caller routes
 * 2001:db8::/32 to the loopback as local, so answers come back). An IPv6 subscriber's MAP
 * makes a NAT64 mapping on a server fronting a NAT64 (RFC 7225's setting).
 *
 *   pcp_load SERVER SUBSCRIBERS PORTS_PER_SUBSCRIBER PASSES [WINDOW]
 *   pcp_load echo ADDRESS SECONDS      the baseline: a reflector answering every datagram
 *                                      with its R bit set, batched like cgnatd (ADDRESS of
 *                                      either family)
 *
 * A pass asks for every (subscriber, port) once: the first pass creates mappings, the
 * following ones renew them (same nonce).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cgn_clock.h"
#include "pcp_wire.h"

#define MAX_WINDOW 512

/* Subscriber i: 127.(10 + i / 65536).(i / 256 % 256).(i % 256 + 1 ... ) kept clear of .0 */
static uint32_t
sub_addr(uint32_t i)
{
	return htonl((127u << 24) | ((10u + i / 65025u) << 16) | ((i / 255u % 255u + 1u) << 8) | (i % 255u + 1u));
}

/* IPv6 subscriber i (< 2^24): 2001:db8:(i >> 8):(i & 0xff)00::1, alone in its /56. */
static struct in6_addr
sub_addr6(uint32_t i)
{
	struct in6_addr a = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i,
					   [15] = 1 } };
	return a;
}

/* ADDRESS:5351 of either family into ss. @return its length, or 0 for no address. */
static socklen_t
server_sockaddr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(PCP_SERVER_PORT);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(PCP_SERVER_PORT);
		return sizeof(*sin6);
	}
	return 0;
}

/* The baseline server: the same kernel path and batching as cgnatd, no PCP work. */
static int
echo(const char *addr, int seconds)
{
	static uint8_t buf[64][PCP_MAX_MSG];
	static struct sockaddr_storage from[64];
	static struct iovec iov[64];
	static struct mmsghdr m[64];
	struct sockaddr_storage me;
	socklen_t me_len = server_sockaddr(addr, &me);
	if (!me_len) {
		fprintf(stderr, "echo: not an address: %s\n", addr);
		return 1;
	}
	int fd = socket(me.ss_family, SOCK_DGRAM, 0);
	int big = 8 << 20, one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (me.ss_family == AF_INET6) /* an address of the local route, like the subscribers' */
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&me, me_len) < 0) {
		perror("echo: bind");
		return 1;
	}
	double end = cgn_clock_s() + seconds;
	while (cgn_clock_s() < end) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, 100) != 1)
			continue;
		for (int i = 0; i < 64; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, m, 64, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			buf[i][1] |= 0x80;
			buf[i][3] = 0;
			iov[i].iov_len = m[i].msg_len;
		}
		if (n > 0)
			sendmmsg(fd, m, (unsigned)n, 0);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "echo") == 0)
		return echo(argv[2], atoi(argv[3]));
	if (argc < 5) {
		fprintf(stderr, "usage: pcp_load SERVER SUBSCRIBERS PORTS_PER_SUBSCRIBER PASSES [WINDOW]\n");
		return 2;
	}
	struct sockaddr_storage srv;
	socklen_t srv_len = server_sockaddr(argv[1], &srv);
	if (!srv_len) {
		fprintf(stderr, "pcp_load: not an address: %s\n", argv[1]);
		return 2;
	}
	bool v6 = srv.ss_family == AF_INET6;
	uint32_t subs = (uint32_t)atol(argv[2]), ports = (uint32_t)atol(argv[3]), passes = (uint32_t)atol(argv[4]);
	unsigned window = argc > 5 ? (unsigned)atoi(argv[5]) : 256;
	if (window > MAX_WINDOW)
		window = MAX_WINDOW;
	if (v6 && subs > (1u << 24)) {
		fprintf(stderr, "pcp_load: at most 2^24 IPv6 subscribers\n");
		return 2;
	}

	int fd = socket(srv.ss_family, SOCK_DGRAM, 0);
	int one = 1, big = 8 << 20;
	if (v6) /* sources of 2001:db8::/32, a local route but no address of the namespace */
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	struct sockaddr_storage any = { .ss_family = srv.ss_family };
	if (bind(fd, (struct sockaddr *)&any, v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0) {
		perror("bind");
		return 1;
	}

	static uint8_t tx[MAX_WINDOW][64], rx[MAX_WINDOW][PCP_MAX_MSG];
	static char cbuf[MAX_WINDOW][CMSG_SPACE(sizeof(struct in6_pktinfo))];
	static struct iovec tiov[MAX_WINDOW], riov[MAX_WINDOW];
	static struct mmsghdr tm[MAX_WINDOW], rm[MAX_WINDOW];
	static struct pcp_request req;

	uint64_t sent = 0, answered = 0, ok = 0;
	uint64_t total = (uint64_t)subs * ports * passes;
	double start = cgn_clock_s();
	while (sent < total) {
		unsigned n = 0;
		for (; n < window && sent + n < total; n++) {
			uint64_t k = (sent + n) % ((uint64_t)subs * ports);
			uint32_t s = (uint32_t)(k / ports), p = (uint32_t)(k % ports);
			uint32_t src = sub_addr(s);
			struct in6_addr src6 = sub_addr6(s);
			memset(&req, 0, offsetof(struct pcp_request, options));
			req.n_options = 0;
			req.opcode = PCP_OP_MAP;
			req.lifetime = 7200;
			if (v6)
				memcpy(req.client_addr.b, &src6, 16);
			else
				req.client_addr = cgn_addr_from_v4(src);
			memcpy(req.u.map.nonce, &k, sizeof(k));
			req.u.map.protocol = 17;
			req.u.map.internal_port = (uint16_t)(10000 + p);
			req.u.map.external_addr = cgn_addr_from_v4(0);
			pcp_build_request(&req, tx[n], sizeof(tx[n]));
			tiov[n] = (struct iovec){ tx[n], PCP_HDR_LEN + PCP_MAP_LEN };
			struct msghdr *h = &tm[n].msg_hdr;
			*h = (struct msghdr){ .msg_name = &srv, .msg_namelen = srv_len, .msg_iov = &tiov[n],
					      .msg_iovlen = 1, .msg_control = cbuf[n],
					      .msg_controllen = v6 ? CMSG_SPACE(sizeof(struct in6_pktinfo))
								   : CMSG_SPACE(sizeof(struct in_pktinfo)) };
			struct cmsghdr *c = CMSG_FIRSTHDR(h);
			if (v6) {
				c->cmsg_level = IPPROTO_IPV6;
				c->cmsg_type = IPV6_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
				struct in6_pktinfo *pi = (struct in6_pktinfo *)CMSG_DATA(c);
				memset(pi, 0, sizeof(*pi));
				pi->ipi6_addr = src6;
			} else {
				c->cmsg_level = IPPROTO_IP;
				c->cmsg_type = IP_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
				memset(pi, 0, sizeof(*pi));
				pi->ipi_spec_dst.s_addr = src;
			}
		}
		for (unsigned done = 0; done < n;) {
			int k = sendmmsg(fd, tm + done, n - done, 0);
			if (k <= 0) {
				perror("sendmmsg");
				return 1;
			}
			done += (unsigned)k;
		}
		sent += n;
		/* Read the window's answers; a lost one is given up after 200 ms. */
		unsigned got = 0;
		while (got < n) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, 200) != 1)
				break;
			for (unsigned i = 0; i < MAX_WINDOW; i++) {
				riov[i] = (struct iovec){ rx[i], sizeof(rx[i]) };
				rm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
			}
			int k = recvmmsg(fd, rm, MAX_WINDOW, MSG_DONTWAIT, NULL);
			for (int i = 0; i < k; i++) {
				got++;
				if (rm[i].msg_len >= PCP_HDR_LEN && rx[i][3] == PCP_RES_SUCCESS)
					ok++;
			}
		}
		answered += got;
	}
	double secs = cgn_clock_s() - start;
	printf("requests %llu answered %llu success %llu seconds %.3f rate %.0f/s\n", (unsigned long long)sent,
	       (unsigned long long)answered, (unsigned long long)ok, secs, (double)answered / secs);
	return 0;
}
