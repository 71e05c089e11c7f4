/*
 * The control thread's epoll loop (see control_loop.h).
 */
#define _GNU_SOURCE
#include "control_loop.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cgn_dataplane.h" /* CGN_PUNT_HOP_LIMIT_LINK */
#include "cgn_events.h"
#include "cgn_log.h"
#include "pcp_wire.h"

void
control_loop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/* The index of the interface that holds IPv6 address a, or 0 (none, or a is ::). */
static unsigned
interface_of(const struct cgn_addr *a)
{
	struct ifaddrs *ifs;
	unsigned index = 0;
	if (getifaddrs(&ifs) != 0)
		return 0;
	for (const struct ifaddrs *i = ifs; i && index == 0; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a->b, 16) == 0)
			index = if_nametoindex(i->ifa_name);
	freeifaddrs(ifs);
	return index;
}

static int
open_socket(const struct cgn_listen *l)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char a[CGN_ADDR_STRLEN];
	int one = 1;

	cgn_addr_to_sockaddr(&l->addr, l->port, &ss, &sl);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	if (ss.ss_family == AF_INET) { /* multicast ANNOUNCE leaves by the listen address */
		struct in_addr ifa = { cgn_addr_v4(&l->addr) };
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof(ifa));
	} else {
		/* ... and for IPv6 by the interface that holds it (ff02::1 is link-scoped: it
		 * names no interface of its own), with the inside ports' hop limit. */
		int ifindex = (int)interface_of(&l->addr), hops = CGN_PUNT_HOP_LIMIT_LINK;
		if (ifindex > 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
	}
	return fd;
fail:;
	int err = errno;
	CGN_LOG(ERR, "cannot listen for PCP on %s port %u: %s", cgn_addr_format(&l->addr, a, sizeof(a)), l->port,
		strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

static int
watch(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_TIMER = 1000, TAG_SIGNAL = 1001 };

int
control_loop_open(struct control_loop *loop, const struct cgn_config *cfg, struct pcp_server *srv)
{
	sigset_t set;

	memset(loop, 0, sizeof(*loop));
	loop->epfd = loop->timerfd = loop->sigfd = -1;
	loop->srv = srv;

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	for (unsigned i = 0; i < cfg->pcp.n_listen; i++) {
		int fd = open_socket(&cfg->pcp.listen[i]);
		if (fd < 0)
			return fd;
		loop->listen[loop->n_socks] = cfg->pcp.listen[i];
		loop->socks[loop->n_socks++] = fd;
		if (watch(loop->epfd, fd, i) < 0)
			return -errno;
	}

	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = { .it_interval = { 0, CONTROL_POLL_MS * 1000000L },
				  .it_value = { 0, CONTROL_POLL_MS * 1000000L } };
	if (loop->timerfd < 0 || timerfd_settime(loop->timerfd, 0, &its, NULL) < 0 ||
	    watch(loop->epfd, loop->timerfd, TAG_TIMER) < 0)
		return -errno;

	control_loop_signals(&set);
	loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0 || watch(loop->epfd, loop->sigfd, TAG_SIGNAL) < 0)
		return -errno;
	return 0;
}

/* Reads every pending datagram of one socket, a batch at a time, and answers each batch. */
static void
serve_socket(struct control_loop *loop, int fd)
{
	static uint8_t rx[CONTROL_BATCH][PCP_MAX_MSG + 4]; /* +4: see oversized requests as such */
	static uint8_t tx[CONTROL_BATCH][PCP_MAX_MSG];
	struct sockaddr_storage from[CONTROL_BATCH];
	struct iovec riov[CONTROL_BATCH], tiov[CONTROL_BATCH];
	struct mmsghdr rmsg[CONTROL_BATCH], tmsg[CONTROL_BATCH];

	for (;;) {
		for (int i = 0; i < CONTROL_BATCH; i++) {
			riov[i] = (struct iovec){ rx[i], sizeof(rx[i]) };
			rmsg[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							   .msg_iov = &riov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, rmsg, CONTROL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;

		uint64_t now = cgn_clock_ms();
		int out = 0;
		for (int i = 0; i < n; i++) {
			struct cgn_addr src;
			uint16_t sport;
			if (cgn_addr_from_sockaddr((struct sockaddr *)&from[i], &src, &sport) < 0)
				continue;
			/* A datagram larger than the buffer arrives truncated (MSG_TRUNC): it is
			 * over 1100 octets either way, and the server answers MALFORMED_REQUEST. */
			size_t len = rmsg[i].msg_len;
			size_t rl = pcp_server_handle(loop->srv, now, rx[i], len, &src, sport, tx[out]);
			if (rl == 0)
				continue;
			tiov[out] = (struct iovec){ tx[out], rl };
			tmsg[out].msg_hdr = (struct msghdr){ .msg_name = &from[i],
							     .msg_namelen = rmsg[i].msg_hdr.msg_namelen,
							     .msg_iov = &tiov[out], .msg_iovlen = 1 };
			out++;
		}
		/* The state store's group commit: what these requests changed is in the store
		 * before any of their answers leaves (a crash after an answer loses nothing). */
		pcp_server_flush(loop->srv);
		for (int sent = 0; sent < out;) {
			int k = sendmmsg(fd, tmsg + sent, (unsigned)(out - sent), 0);
			if (k <= 0) {
				loop->send_errors += (uint64_t)(out - sent);
				break;
			}
			sent += k;
		}
		if (n < CONTROL_BATCH)
			return;
	}
}

int
control_loop_run(struct control_loop *loop)
{
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(loop->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag == TAG_TIMER) {
				uint64_t ticks;
				if (read(loop->timerfd, &ticks, sizeof(ticks)) <= 0)
					continue;
				if (loop->on_poll)
					loop->on_poll(loop->poll_ctx);
				uint64_t now = cgn_clock_ms();
				if (now >= loop->next_tick_ms) {
					loop->next_tick_ms = now + CONTROL_TICK_MS;
					pcp_server_tick(loop->srv, now);
				}
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(loop->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						if (loop->on_sighup)
							loop->on_sighup(loop->sighup_ctx);
						continue;
					}
					cgn_events_flush();
					return (int)si.ssi_signo;
				}
			} else if (tag < loop->n_socks) {
				serve_socket(loop, loop->socks[tag]);
			}
		}
		cgn_events_flush(); /* this round's NAT events (PCP mappings, reclaim) to the logger */
	}
}

int
control_loop_send(struct control_loop *loop, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg,
		  size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	cgn_addr_to_sockaddr(dst, port, &ss, &sl);
	/* From the PCP socket of the same family: §14.1.3 "sent from the unicast IP address
	 * and UDP port number on which PCP requests are received". */
	for (unsigned i = 0; i < loop->n_socks; i++) {
		if (cgn_addr_is_v4(&loop->listen[i].addr) != (ss.ss_family == AF_INET))
			continue;
		if (sendto(loop->socks[i], msg, len, 0, (struct sockaddr *)&ss, sl) < 0)
			return -errno;
		return 0;
	}
	return -EAFNOSUPPORT;
}

void
control_loop_close(struct control_loop *loop)
{
	for (unsigned i = 0; i < loop->n_socks; i++)
		close(loop->socks[i]);
	if (loop->timerfd >= 0)
		close(loop->timerfd);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->n_socks = 0;
}
