/*
 * The IPFIX sink of the logger (RFC 7011, RFC 8158): NAT events as IPFIX data records, one
 * template per event kind with the mandatory Information Elements of RFC 8158 §4.6, in the
 * order of its tables, sent over UDP or TCP to logging.ipfix.collector.
 *
 * libfixbuf encodes: the information model, the templates, the message and set headers, the
 * sequence numbers and the transcoding of each record. It writes every message into our
 * buffer (fbExporterAllocBuffer) and this file carries it: libfixbuf's own network exporters
 * connect() and write() in blocking mode (a collector that is unreachable or stops reading
 * would stall the logger thread for minutes) and swallow UDP send errors. Here:
 *   - UDP: a connected non-blocking socket; a message the kernel refuses is dropped and its
 *     records counted. Messages stay within 512 octets of IP packet (RFC 7011 §10.3.3, the
 *     PMTU being unknown). Templates are sent at the start and again every
 *     template_refresh_s, in a message of their own (RFC 7011 §8.4).
 *   - TCP: a non-blocking connect, completed (or failed) in flush(); while there is no
 *     connection every event handed is dropped and counted, never queued; a connection that
 *     fails (send error, the collector closed it) is closed, what it still had queued is
 *     counted dropped, and a new attempt is made every reconnect_s. An attempt that neither
 *     succeeds nor fails (a remote that does not answer) is abandoned after reconnect_s.
 *     Each connection is a new Transport Session: a fresh libfixbuf session (sequence
 *     numbers from 0) whose templates are its first message (RFC 7011 §8). Messages the
 *     socket does not take at once wait in a queue of CGN_IPFIX_TCP_QUEUE octets; a message
 *     that does not fit is dropped and counted.
 * No destination is sent (RFC 6888 REQ-12; RFC 8158 §4.1): the session templates carry the
 * mandatory fields only. natInstanceID (optional everywhere) is left out of every template.
 *
 * Threads: cgn_ipfix_open() and ->close() on the main lcore, ->event() and ->flush() on the
 * logger thread only (control/log_sink.h). Nothing here is shared but the counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fixbuf/public.h>

#include "log_sink.h"

/* IPFIX Messages over UDP: 512 octets of IP packet when the PMTU is unknown (RFC 7011
 * §10.3.3), less the IPv4 (20) or IPv6 (40) and UDP (8) headers. */
#define CGN_IPFIX_UDP_PACKET 512
/* Over TCP the MTU does not bound a message (RFC 7011 §10.4.3); libfixbuf's own choice. */
#define CGN_IPFIX_TCP_MSG 8192
/* Octets of messages the TCP socket has not taken yet; beyond this a message is dropped. */
#define CGN_IPFIX_TCP_QUEUE (256 * 1024)
/* Messages in that queue at most (each is counted when written). */
#define CGN_IPFIX_TCP_QUEUE_MSGS 512
/* natPoolId (IE 283) of the one address pool cgnatd has (RFC 8158 Tables 9 and 16). */
#define CGN_IPFIX_POOL_ID 1
/* Template ID of the internal record layout (struct ipfix_rec); internal IDs are local. */
#define CGN_IPFIX_TID_INTERNAL 0xfff0

/* Template IDs on the wire (RFC 7011 §3.4.1: 256 and above), one per event kind and family;
 * docs/logging-ipfix.md lists them. Stable: collectors may key on them. */
enum cgn_ipfix_tid {
	TID_NAT44_SESSION = 256,   /* RFC 8158 Table 5, natEvent 4/5 */
	TID_NAT64_SESSION,         /* Table 6, natEvent 6/7 */
	TID_NAT44_BIB,             /* Table 7, natEvent 8/9 */
	TID_NAT64_BIB,             /* Table 8, natEvent 10/11 */
	TID_ADDRESSES_EXHAUSTED,   /* Table 9, natEvent 3 */
	TID_PORTS_EXHAUSTED,       /* Table 10, natEvent 12 */
	TID_QUOTA_SESSIONS,        /* Table 11, natEvent 13, natQuotaExceededEvent 1 */
	TID_QUOTA_BIB,             /* Table 12, quota 2 */
	TID_QUOTA_PER_USER4,       /* Table 13 (NAT44), quota 3 */
	TID_QUOTA_PER_USER6,       /* Table 13 (NAT64), quota 3 */
	TID_QUOTA_SUBSCRIBERS,     /* Table 14, quota 4 */
	TID_QUOTA_FRAGMENTS4,      /* Table 15 (NAT44), quota 5 */
	TID_QUOTA_FRAGMENTS6,      /* Table 15 (NAT64), quota 5 */
	TID_THRESHOLD_POOL_HIGH,   /* Table 16, natEvent 18, natThresholdEvent 1 */
	TID_THRESHOLD_POOL_LOW,    /* Table 16, threshold 2 */
	TID_THRESHOLD_PORTS_HIGH,  /* Table 17, threshold 3 */
	TID_THRESHOLD_PER_USER4,   /* Table 18 (NAT44), threshold 4 */
	TID_THRESHOLD_PER_USER6,   /* Table 18 (NAT64), threshold 4 */
	TID_THRESHOLD_GLOBAL,      /* Table 19, threshold 5 */
	TID_BINDING4,              /* Table 20 (NAT44), natEvent 14/15 */
	TID_BINDING6,              /* Table 20 (NAT64) */
	TID_PORT_BLOCK4,           /* Table 21 (NAT44), natEvent 16/17 */
	TID_PORT_BLOCK6,           /* Table 21 (NAT64) */
	TID_END,
};

/*
 * The internal record: every field any template sends, host order (libfixbuf converts),
 * laid out in the order of internal_spec[] with no hole (libfixbuf packs internal records).
 * Fields a template does not name are not sent.
 */
struct ipfix_rec {
	uint64_t observationTimeMilliseconds;
	uint8_t sourceIPv6Address[16];
	uint32_t sourceIPv4Address;
	uint32_t postNATSourceIPv4Address;
	uint32_t natPoolId;
	uint32_t natQuotaExceededEvent;
	uint32_t natThresholdEvent;
	uint32_t maxSessionEntries;
	uint32_t maxBIBEntries;
	uint32_t maxEntriesPerUser;
	uint32_t maxSubscribers;
	uint32_t maxFragmentsPendingReassembly;
	uint32_t addressPoolHighThreshold;
	uint32_t addressPoolLowThreshold;
	uint32_t addressPortMappingHighThreshold;
	uint32_t addressPortMappingPerUserHighThreshold;
	uint32_t globalAddressMappingHighThreshold;
	uint16_t sourceTransportPort;
	uint16_t postNAPTSourceTransportPort;
	uint16_t portRangeStart;
	uint16_t portRangeEnd;
	uint8_t natEvent;
	uint8_t protocolIdentifier;
	uint8_t paddingOctets[2];
};
_Static_assert(sizeof(struct ipfix_rec) == 96, "struct ipfix_rec has no hole");

#define SPEC(name, len) { (char *)(name), (len), 0 }
#define REC_SPEC(field) SPEC(#field, sizeof(((struct ipfix_rec *)0)->field))

/* Keep in sync with struct ipfix_rec: same fields, same order, same sizes. */
static fbInfoElementSpec_t internal_spec[] = {
	REC_SPEC(observationTimeMilliseconds),
	REC_SPEC(sourceIPv6Address),
	REC_SPEC(sourceIPv4Address),
	REC_SPEC(postNATSourceIPv4Address),
	REC_SPEC(natPoolId),
	REC_SPEC(natQuotaExceededEvent),
	REC_SPEC(natThresholdEvent),
	REC_SPEC(maxSessionEntries),
	REC_SPEC(maxBIBEntries),
	REC_SPEC(maxEntriesPerUser),
	REC_SPEC(maxSubscribers),
	REC_SPEC(maxFragmentsPendingReassembly),
	REC_SPEC(addressPoolHighThreshold),
	REC_SPEC(addressPoolLowThreshold),
	REC_SPEC(addressPortMappingHighThreshold),
	REC_SPEC(addressPortMappingPerUserHighThreshold),
	REC_SPEC(globalAddressMappingHighThreshold),
	REC_SPEC(sourceTransportPort),
	REC_SPEC(postNAPTSourceTransportPort),
	REC_SPEC(portRangeStart),
	REC_SPEC(portRangeEnd),
	REC_SPEC(natEvent),
	REC_SPEC(protocolIdentifier),
	REC_SPEC(paddingOctets),
	FB_IESPEC_NULL
};

/*
 * The Information Elements of RFC 8158 Table 1 (IANA numbers, enterprise 0) that the
 * templates use. libfixbuf 2.4's built-in model has them all; any it lacks (an older build)
 * is added from here, and one it has under another number is an error at open.
 */
static const struct {
	const char *name;
	uint16_t num;
	uint16_t len;
	uint8_t type;
	uint32_t flags;
} rfc8158_ies[] = {
	{ "sourceTransportPort", 7, 2, FB_UINT_16, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "protocolIdentifier", 4, 1, FB_UINT_8, FB_IE_IDENTIFIER },
	{ "sourceIPv4Address", 8, 4, FB_IP4_ADDR, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "sourceIPv6Address", 27, 16, FB_IP6_ADDR, FB_IE_DEFAULT },
	{ "postNATSourceIPv4Address", 225, 4, FB_IP4_ADDR, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "postNAPTSourceTransportPort", 227, 2, FB_UINT_16, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "natEvent", 230, 1, FB_UINT_8, FB_IE_IDENTIFIER },
	{ "natPoolId", 283, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "observationTimeMilliseconds", 323, 8, FB_DT_MILSEC, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "portRangeStart", 361, 2, FB_UINT_16, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "portRangeEnd", 362, 2, FB_UINT_16, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "natQuotaExceededEvent", 466, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "natThresholdEvent", 467, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER },
	{ "maxSessionEntries", 471, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "maxBIBEntries", 472, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "maxEntriesPerUser", 473, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "maxSubscribers", 474, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "maxFragmentsPendingReassembly", 475, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "addressPoolHighThreshold", 476, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "addressPoolLowThreshold", 477, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "addressPortMappingHighThreshold", 478, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "addressPortMappingPerUserHighThreshold", 480, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
	{ "globalAddressMappingHighThreshold", 481, 4, FB_UINT_32, FB_IE_F_ENDIAN | FB_IE_DEFAULT },
};

/* The templates: RFC 8158 §4.6, mandatory fields in the order of each table ("timeStamp"
 * is observationTimeMilliseconds, IE 323). Length 0: the IE's own. */
#define TS SPEC("observationTimeMilliseconds", 0)
#define EV SPEC("natEvent", 0)
#define SRC4 SPEC("sourceIPv4Address", 0)
#define SRC6 SPEC("sourceIPv6Address", 0)
#define XSRC4 SPEC("postNATSourceIPv4Address", 0)
#define PROTO SPEC("protocolIdentifier", 0)
#define SPORT SPEC("sourceTransportPort", 0)
#define XSPORT SPEC("postNAPTSourceTransportPort", 0)
#define QUOTA SPEC("natQuotaExceededEvent", 0)
#define THRESH SPEC("natThresholdEvent", 0)
#define POOL SPEC("natPoolId", 0)

static fbInfoElementSpec_t templates[TID_END - 256][10] = {
	[TID_NAT44_SESSION - 256] = { TS, EV, SRC4, XSRC4, PROTO, SPORT, XSPORT, FB_IESPEC_NULL },
	[TID_NAT64_SESSION - 256] = { TS, EV, SRC6, XSRC4, PROTO, SPORT, XSPORT, FB_IESPEC_NULL },
	[TID_NAT44_BIB - 256] = { TS, EV, SRC4, XSRC4, PROTO, SPORT, XSPORT, FB_IESPEC_NULL },
	[TID_NAT64_BIB - 256] = { TS, EV, SRC6, XSRC4, PROTO, SPORT, XSPORT, FB_IESPEC_NULL },
	[TID_ADDRESSES_EXHAUSTED - 256] = { TS, EV, POOL, FB_IESPEC_NULL },
	[TID_PORTS_EXHAUSTED - 256] = { TS, EV, XSRC4, PROTO, FB_IESPEC_NULL },
	[TID_QUOTA_SESSIONS - 256] = { TS, EV, QUOTA, SPEC("maxSessionEntries", 0), FB_IESPEC_NULL },
	[TID_QUOTA_BIB - 256] = { TS, EV, QUOTA, SPEC("maxBIBEntries", 0), FB_IESPEC_NULL },
	[TID_QUOTA_PER_USER4 - 256] = { TS, EV, QUOTA, SPEC("maxEntriesPerUser", 0), SRC4, FB_IESPEC_NULL },
	[TID_QUOTA_PER_USER6 - 256] = { TS, EV, QUOTA, SPEC("maxEntriesPerUser", 0), SRC6, FB_IESPEC_NULL },
	[TID_QUOTA_SUBSCRIBERS - 256] = { TS, EV, QUOTA, SPEC("maxSubscribers", 0), FB_IESPEC_NULL },
	[TID_QUOTA_FRAGMENTS4 - 256] = { TS, EV, QUOTA, SPEC("maxFragmentsPendingReassembly", 0), SRC4,
					 FB_IESPEC_NULL },
	[TID_QUOTA_FRAGMENTS6 - 256] = { TS, EV, QUOTA, SPEC("maxFragmentsPendingReassembly", 0), SRC6,
					 FB_IESPEC_NULL },
	[TID_THRESHOLD_POOL_HIGH - 256] = { TS, EV, THRESH, POOL, SPEC("addressPoolHighThreshold", 0),
					    FB_IESPEC_NULL },
	[TID_THRESHOLD_POOL_LOW - 256] = { TS, EV, THRESH, POOL, SPEC("addressPoolLowThreshold", 0),
					   FB_IESPEC_NULL },
	[TID_THRESHOLD_PORTS_HIGH - 256] = { TS, EV, THRESH, SPEC("addressPortMappingHighThreshold", 0),
					     FB_IESPEC_NULL },
	[TID_THRESHOLD_PER_USER4 - 256] = { TS, EV, THRESH, SPEC("addressPortMappingHighThreshold", 0), SRC4,
					    FB_IESPEC_NULL },
	[TID_THRESHOLD_PER_USER6 - 256] = { TS, EV, THRESH, SPEC("addressPortMappingHighThreshold", 0), SRC6,
					    FB_IESPEC_NULL },
	[TID_THRESHOLD_GLOBAL - 256] = { TS, EV, THRESH, SPEC("globalAddressMappingHighThreshold", 0),
					 FB_IESPEC_NULL },
	[TID_BINDING4 - 256] = { TS, EV, SRC4, XSRC4, FB_IESPEC_NULL },
	[TID_BINDING6 - 256] = { TS, EV, SRC6, XSRC4, FB_IESPEC_NULL },
	[TID_PORT_BLOCK4 - 256] = { TS, EV, SRC4, XSRC4, SPEC("portRangeStart", 0), SPEC("portRangeEnd", 0),
				    FB_IESPEC_NULL },
	[TID_PORT_BLOCK6 - 256] = { TS, EV, SRC6, XSRC4, SPEC("portRangeStart", 0), SPEC("portRangeEnd", 0),
				    FB_IESPEC_NULL },
};

enum conn_state {
	CONN_DOWN,       /* TCP: no socket; next attempt at next_connect_ms */
	CONN_CONNECTING, /* TCP: connect() in progress since connect_start_ms */
	CONN_UP,         /* UDP always; TCP connected */
};

/* A message waiting in the TCP queue: its octets not yet written, its data records. */
struct queued_msg {
	uint32_t len;
	uint32_t records;
};

struct cgn_ipfix_sink {
	struct cgn_log_sink base; /* first: the logger holds &base */
	bool tcp;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint32_t domain;
	uint64_t refresh_ms;   /* UDP template refresh interval */
	uint64_t reconnect_ms; /* TCP: between attempts, and the longest one attempt lasts */
	uint16_t msg_max;      /* longest IPFIX message */

	int fd;
	enum conn_state state;
	uint64_t next_refresh_ms;   /* UDP; 0: set at the first flush */
	uint64_t next_connect_ms;   /* TCP, CONN_DOWN */
	uint64_t connect_start_ms;  /* TCP, CONN_CONNECTING */

	/* The encoder: libfixbuf writes each message into msg. fbuf owns session and exporter. */
	fbInfoModel_t *model;
	fBuf_t *fbuf;
	fbExporter_t *exporter;
	uint16_t cur_tid;          /* export template set on fbuf; 0 none */
	uint32_t pending_records;  /* data records in the message being built */
	uint8_t msg[CGN_IPFIX_TCP_MSG];

	/* TCP: messages the socket has not taken; q[0..q_used) in the order of qmsg. */
	uint8_t *q;
	size_t q_used;
	struct queued_msg qmsg[CGN_IPFIX_TCP_QUEUE_MSGS];
	unsigned qmsg_head, qmsg_n;
};

/* Counters: one writer (the logger thread), readers elsewhere (relaxed). */
#define STAT_ADD(s, field, n)                                                                \
	__atomic_store_n(&(s)->base.stats.field, (s)->base.stats.field + (n), __ATOMIC_RELAXED)

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the information model and the encoder ---- */

/** Adds the RFC 8158 IEs the model lacks; checks the numbers of those it has. */
static int
model_check(fbInfoModel_t *model, char *err, size_t err_len)
{
	for (size_t i = 0; i < sizeof(rfc8158_ies) / sizeof(rfc8158_ies[0]); i++) {
		const fbInfoElement_t *ie = fbInfoModelGetElementByName(model, rfc8158_ies[i].name);
		if (ie == NULL) {
			fbInfoElement_t add = FB_IE_INIT_FULL(rfc8158_ies[i].name, 0, rfc8158_ies[i].num,
							      rfc8158_ies[i].len, rfc8158_ies[i].flags, 0, 0,
							      rfc8158_ies[i].type, NULL);
			fbInfoModelAddElement(model, &add);
			ie = fbInfoModelGetElementByName(model, rfc8158_ies[i].name);
		}
		if (ie == NULL || ie->ent != 0 || ie->num != rfc8158_ies[i].num) {
			snprintf(err, err_len, "ipfix: information element %s is not IANA's %u in libfixbuf's model",
				 rfc8158_ies[i].name, rfc8158_ies[i].num);
			return -EINVAL;
		}
	}
	return 0;
}

static void
encoder_free(struct cgn_ipfix_sink *s)
{
	if (s->fbuf != NULL)
		fBufFree(s->fbuf); /* its session and exporter too */
	s->fbuf = NULL;
	s->exporter = NULL;
	s->cur_tid = 0;
	s->pending_records = 0;
}

static int
add_template(fbSession_t *session, fbInfoModel_t *model, bool internal, uint16_t tid,
	     fbInfoElementSpec_t *spec, char *err, size_t err_len)
{
	GError *gerr = NULL;
	fbTemplate_t *t = fbTemplateAlloc(model);

	if (!fbTemplateAppendSpecArray(t, spec, 0, &gerr) ||
	    fbSessionAddTemplate(session, internal, tid, t, &gerr) == 0) {
		snprintf(err, err_len, "ipfix: template %u: %s", tid, gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		fbTemplateFreeUnused(t);
		return -EINVAL;
	}
	return 0;
}

/**
 * A new encoder: a libfixbuf session (observation domain, sequence 0) with the internal
 * layout and every template, writing into s->msg. Templates are not written yet.
 */
static int
encoder_new(struct cgn_ipfix_sink *s, char *err, size_t err_len)
{
	GError *gerr = NULL;
	fbSession_t *session = fbSessionAlloc(s->model);
	int rc;

	fbSessionSetDomain(session, s->domain);
	rc = add_template(session, s->model, true, CGN_IPFIX_TID_INTERNAL, internal_spec, err, err_len);
	for (unsigned tid = 256; rc == 0 && tid < TID_END; tid++)
		rc = add_template(session, s->model, false, tid, templates[tid - 256], err, err_len);
	if (rc != 0) {
		fbSessionFree(session);
		return rc;
	}
	s->exporter = fbExporterAllocBuffer(s->msg, s->msg_max);
	s->fbuf = fBufAllocForExport(session, s->exporter);
	/* Manual mode: a full message comes back as FB_ERROR_EOM and is emitted here, so
	 * that every message reaches our socket (automatic mode would overwrite s->msg). */
	fBufSetAutomaticMode(s->fbuf, FALSE);
	if (!fBufSetInternalTemplate(s->fbuf, CGN_IPFIX_TID_INTERNAL, &gerr)) {
		snprintf(err, err_len, "ipfix: internal template: %s", gerr->message);
		g_clear_error(&gerr);
		encoder_free(s);
		return -EINVAL;
	}
	s->cur_tid = 0;
	s->pending_records = 0;
	return 0;
}

/* ---- transport ---- */

static void conn_close(struct cgn_ipfix_sink *s, uint64_t now_ms);

/** Writes what the TCP queue holds, as far as the socket takes it. */
static void
tcp_drain(struct cgn_ipfix_sink *s)
{
	size_t done = 0;

	while (s->qmsg_n > 0) {
		struct queued_msg *m = &s->qmsg[s->qmsg_head];
		ssize_t n = send(s->fd, s->q + done, m->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			STAT_ADD(s, errors, 1);
			memmove(s->q, s->q + done, s->q_used - done);
			s->q_used -= done;
			conn_close(s, mono_ms());
			return;
		}
		done += (size_t)n;
		m->len -= (uint32_t)n;
		if (m->len == 0) {
			STAT_ADD(s, sent, m->records);
			STAT_ADD(s, messages, 1);
			s->qmsg_head = (s->qmsg_head + 1) % CGN_IPFIX_TCP_QUEUE_MSGS;
			s->qmsg_n--;
		}
	}
	memmove(s->q, s->q + done, s->q_used - done);
	s->q_used -= done;
}

/** Hands the message libfixbuf just wrote into s->msg (records: its data records) over. */
static void
msg_out(struct cgn_ipfix_sink *s, size_t len, uint32_t records)
{
	if (len == 0)
		return;
	if (!s->tcp) {
		ssize_t n = send(s->fd, s->msg, len, MSG_DONTWAIT);
		/* A connected UDP socket reports an ICMP error of an earlier datagram on the next
		 * send, which it then does not send: once more, for this one. */
		if (n < 0 && errno == ECONNREFUSED) {
			STAT_ADD(s, errors, 1);
			n = send(s->fd, s->msg, len, MSG_DONTWAIT);
		}
		if (n == (ssize_t)len) {
			STAT_ADD(s, sent, records);
			STAT_ADD(s, messages, 1);
		} else {
			STAT_ADD(s, errors, 1);
			STAT_ADD(s, dropped, records);
		}
		return;
	}
	if (s->state != CONN_UP || s->qmsg_n == CGN_IPFIX_TCP_QUEUE_MSGS ||
	    s->q_used + len > CGN_IPFIX_TCP_QUEUE) {
		STAT_ADD(s, dropped, records);
		return;
	}
	memcpy(s->q + s->q_used, s->msg, len);
	s->q_used += len;
	s->qmsg[(s->qmsg_head + s->qmsg_n) % CGN_IPFIX_TCP_QUEUE_MSGS] =
		(struct queued_msg){ .len = (uint32_t)len, .records = records };
	s->qmsg_n++;
	tcp_drain(s);
}

/** Closes the message being built, if any, and sends it. */
static void
emit(struct cgn_ipfix_sink *s)
{
	GError *gerr = NULL;
	uint32_t records = s->pending_records;

	s->pending_records = 0;
	if (s->fbuf == NULL)
		return;
	/* fBufEmit() of an empty buffer writes nothing: a version field still 0 says so. */
	s->msg[0] = s->msg[1] = 0;
	if (!fBufEmit(s->fbuf, &gerr)) {
		/* Cannot fail with a buffer exporter; if it ever did, the records are lost. */
		g_clear_error(&gerr);
		STAT_ADD(s, errors, 1);
		STAT_ADD(s, dropped, records);
		return;
	}
	if (s->msg[0] != 0 || s->msg[1] != 10)
		return;
	msg_out(s, fbExporterGetMsgLen(s->exporter), records);
}

/**
 * Runs a libfixbuf append (a record, a template); a full message (FB_ERROR_EOM, manual mode)
 * is emitted and the append tried once more. @return true if it was appended.
 */
#define APPEND_RETRY(s, call, gerr)                                                          \
	({                                                                                    \
		bool ok_ = (call);                                                            \
		if (!ok_ && g_error_matches((gerr), FB_ERROR_DOMAIN, FB_ERROR_EOM)) {         \
			g_clear_error(&(gerr));                                               \
			emit(s);                                                              \
			ok_ = (s)->fbuf != NULL && (call);                                    \
		}                                                                             \
		ok_;                                                                          \
	})

/** Writes every template, in messages of their own (RFC 7011 §8.4), and sends them. */
static void
export_templates(struct cgn_ipfix_sink *s)
{
	GError *gerr = NULL;

	emit(s); /* the data records before them */
	for (unsigned tid = 256; tid < TID_END && s->fbuf != NULL; tid++) {
		if (!APPEND_RETRY(s, fbSessionExportTemplate(fBufGetSession(s->fbuf), tid, &gerr), gerr)) {
			g_clear_error(&gerr);
			STAT_ADD(s, errors, 1);
		}
	}
	emit(s);
	s->cur_tid = 0;
}

/* ---- TCP connection ---- */

/** Closes the connection: what it still had queued is lost. Next attempt after reconnect_ms. */
static void
conn_close(struct cgn_ipfix_sink *s, uint64_t now_ms)
{
	for (; s->qmsg_n > 0; s->qmsg_n--) {
		STAT_ADD(s, dropped, s->qmsg[s->qmsg_head].records);
		s->qmsg_head = (s->qmsg_head + 1) % CGN_IPFIX_TCP_QUEUE_MSGS;
	}
	s->q_used = 0;
	s->qmsg_head = 0;
	if (s->fbuf != NULL) {
		STAT_ADD(s, dropped, s->pending_records);
		s->pending_records = 0;
		encoder_free(s);
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = CONN_DOWN;
	s->next_connect_ms = now_ms + s->reconnect_ms;
}

/** The connection is up: a new Transport Session, its templates first. */
static void
conn_up(struct cgn_ipfix_sink *s, uint64_t now_ms)
{
	char err[128];

	if (encoder_new(s, err, sizeof(err)) != 0) {
		STAT_ADD(s, errors, 1);
		conn_close(s, now_ms);
		return;
	}
	s->state = CONN_UP;
	STAT_ADD(s, connects, 1);
	export_templates(s);
}

/** Starts a non-blocking connect; a refused one (local) fails here at once. */
static void
conn_start(struct cgn_ipfix_sink *s, uint64_t now_ms)
{
	s->fd = socket(s->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		STAT_ADD(s, errors, 1);
		conn_close(s, now_ms);
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&s->dst, s->dst_len) == 0) {
		conn_up(s, now_ms);
	} else if (errno == EINPROGRESS) {
		s->state = CONN_CONNECTING;
		s->connect_start_ms = now_ms;
	} else {
		STAT_ADD(s, errors, 1);
		conn_close(s, now_ms);
	}
}

/** TCP's timed work: attempts, their completion, a collector that closed. Never waits. */
static void
conn_poll(struct cgn_ipfix_sink *s, uint64_t now_ms)
{
	struct pollfd p = { .fd = s->fd };

	switch (s->state) {
	case CONN_DOWN:
		if (now_ms >= s->next_connect_ms)
			conn_start(s, now_ms);
		return;
	case CONN_CONNECTING:
		p.events = POLLOUT;
		if (poll(&p, 1, 0) == 1) {
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
				conn_up(s, now_ms);
				return;
			}
			STAT_ADD(s, errors, 1);
			conn_close(s, now_ms);
		} else if (now_ms - s->connect_start_ms >= s->reconnect_ms) {
			/* No answer (a remote that drops SYNs): give up, try again later. */
			STAT_ADD(s, errors, 1);
			conn_close(s, now_ms);
		}
		return;
	case CONN_UP:
		/* A collector sends nothing over IPFIX/TCP: readable means it closed (or reset). */
		p.events = POLLIN | POLLRDHUP;
		if (poll(&p, 1, 0) == 1) {
			char buf[512];
			ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
			    (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				STAT_ADD(s, errors, 1);
				conn_close(s, now_ms);
			}
		}
		return;
	}
}

/* ---- the sink ---- */

/**
 * Fills the record of ev and picks its template. @return the template ID, or 0 when the
 * event's address family does not fit its kind (a NAT44 event about an IPv6 subscriber).
 */
static uint16_t
ipfix_record(const struct cgn_event *ev, uint64_t wall_ms, struct ipfix_rec *r)
{
	bool v6 = cgn_event_is_v6(ev);

	memset(r, 0, sizeof(*r));
	r->observationTimeMilliseconds = wall_ms;
	r->natEvent = ev->nat_event;
	if (v6)
		memcpy(r->sourceIPv6Address, ev->internal.b, 16);
	else
		r->sourceIPv4Address = ntohl(cgn_addr_v4(&ev->internal));
	r->postNATSourceIPv4Address = ntohl(ev->ext_addr);
	r->protocolIdentifier = ev->proto;
	r->sourceTransportPort = ev->int_port;
	r->postNAPTSourceTransportPort = ev->ext_port;
	r->portRangeStart = ev->port_first;
	r->portRangeEnd = ev->port_last;
	r->natPoolId = CGN_IPFIX_POOL_ID;

	switch ((enum cgn_nat_event)ev->nat_event) {
	case CGN_NATEV_NAT44_SESSION_CREATE:
	case CGN_NATEV_NAT44_SESSION_DELETE:
		return v6 ? 0 : TID_NAT44_SESSION;
	case CGN_NATEV_NAT64_SESSION_CREATE:
	case CGN_NATEV_NAT64_SESSION_DELETE:
		return v6 ? TID_NAT64_SESSION : 0;
	case CGN_NATEV_NAT44_BIB_CREATE:
	case CGN_NATEV_NAT44_BIB_DELETE:
		return v6 ? 0 : TID_NAT44_BIB;
	case CGN_NATEV_NAT64_BIB_CREATE:
	case CGN_NATEV_NAT64_BIB_DELETE:
		return v6 ? TID_NAT64_BIB : 0;
	case CGN_NATEV_ADDRESSES_EXHAUSTED:
		return TID_ADDRESSES_EXHAUSTED;
	case CGN_NATEV_PORTS_EXHAUSTED:
		return TID_PORTS_EXHAUSTED;
	case CGN_NATEV_BINDING_CREATE:
	case CGN_NATEV_BINDING_DELETE:
		return v6 ? TID_BINDING6 : TID_BINDING4;
	case CGN_NATEV_PORT_BLOCK_ALLOC:
	case CGN_NATEV_PORT_BLOCK_FREE:
		return v6 ? TID_PORT_BLOCK6 : TID_PORT_BLOCK4;
	case CGN_NATEV_QUOTA_EXCEEDED:
		r->natQuotaExceededEvent = ev->sub_event;
		switch ((enum cgn_quota_event)ev->sub_event) {
		case CGN_QUOTA_SESSIONS:
			r->maxSessionEntries = ev->value;
			return TID_QUOTA_SESSIONS;
		case CGN_QUOTA_BIB:
			r->maxBIBEntries = ev->value;
			return TID_QUOTA_BIB;
		case CGN_QUOTA_PER_USER:
			r->maxEntriesPerUser = ev->value;
			return v6 ? TID_QUOTA_PER_USER6 : TID_QUOTA_PER_USER4;
		case CGN_QUOTA_SUBSCRIBERS:
			r->maxSubscribers = ev->value;
			return TID_QUOTA_SUBSCRIBERS;
		case CGN_QUOTA_FRAGMENTS:
			r->maxFragmentsPendingReassembly = ev->value;
			return v6 ? TID_QUOTA_FRAGMENTS6 : TID_QUOTA_FRAGMENTS4;
		}
		return 0;
	case CGN_NATEV_THRESHOLD_REACHED:
		r->natThresholdEvent = ev->sub_event;
		switch ((enum cgn_threshold_event)ev->sub_event) {
		case CGN_THRESHOLD_POOL_HIGH:
			r->addressPoolHighThreshold = ev->value;
			return TID_THRESHOLD_POOL_HIGH;
		case CGN_THRESHOLD_POOL_LOW:
			r->addressPoolLowThreshold = ev->value;
			return TID_THRESHOLD_POOL_LOW;
		case CGN_THRESHOLD_PORTS_HIGH:
			r->addressPortMappingHighThreshold = ev->value;
			return TID_THRESHOLD_PORTS_HIGH;
		case CGN_THRESHOLD_PER_USER_HIGH:
			r->addressPortMappingHighThreshold = ev->value;
			return v6 ? TID_THRESHOLD_PER_USER6 : TID_THRESHOLD_PER_USER4;
		case CGN_THRESHOLD_GLOBAL_HIGH:
			r->globalAddressMappingHighThreshold = ev->value;
			return TID_THRESHOLD_GLOBAL;
		}
		return 0;
	}
	return 0;
}

static void
ipfix_event(struct cgn_log_sink *base, const struct cgn_event *ev, uint64_t wall_ms)
{
	struct cgn_ipfix_sink *s = (struct cgn_ipfix_sink *)base;
	struct ipfix_rec r;
	GError *gerr = NULL;
	uint16_t tid;

	STAT_ADD(s, events, 1);
	if (s->state != CONN_UP || s->fbuf == NULL) {
		/* TCP without a connection: lost, counted, never queued. */
		STAT_ADD(s, dropped, 1);
		return;
	}
	tid = ipfix_record(ev, wall_ms, &r);
	if (tid == 0) {
		STAT_ADD(s, dropped, 1);
		return;
	}
	if (tid != s->cur_tid) {
		if (!fBufSetExportTemplate(s->fbuf, tid, &gerr)) {
			g_clear_error(&gerr);
			STAT_ADD(s, errors, 1);
			STAT_ADD(s, dropped, 1);
			return;
		}
		s->cur_tid = tid;
	}
	if (!APPEND_RETRY(s, fBufAppend(s->fbuf, (uint8_t *)&r, sizeof(r), &gerr), gerr)) {
		/* s->fbuf NULL: the message before it failed and closed the connection (counted). */
		if (s->fbuf != NULL)
			STAT_ADD(s, errors, 1);
		g_clear_error(&gerr);
		STAT_ADD(s, dropped, 1);
		return;
	}
	s->pending_records++;
}

static void
ipfix_flush(struct cgn_log_sink *base, uint64_t now_ms)
{
	struct cgn_ipfix_sink *s = (struct cgn_ipfix_sink *)base;

	if (s->tcp) {
		conn_poll(s, now_ms); /* first: a collector gone takes what is pending with it */
		emit(s);
		if (s->state == CONN_UP)
			tcp_drain(s);
		return;
	}
	if (s->next_refresh_ms == 0)
		s->next_refresh_ms = now_ms + s->refresh_ms;
	if (now_ms >= s->next_refresh_ms) {
		export_templates(s); /* emits the data records first */
		s->next_refresh_ms = now_ms + s->refresh_ms;
	}
	emit(s);
}

static void
ipfix_close(struct cgn_log_sink *base)
{
	struct cgn_ipfix_sink *s = (struct cgn_ipfix_sink *)base;

	emit(s);
	if (s->tcp && s->state == CONN_UP)
		tcp_drain(s); /* once, without waiting: what the socket does not take is lost */
	if (s->tcp)
		conn_close(s, 0);
	encoder_free(s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->model != NULL)
		fbInfoModelFree(s->model);
	free(s->q);
	free(s);
}

/** The collector's address as a socket address. */
static void
collector_sockaddr(const struct cgn_listen *l, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (cgn_addr_is_v4(&l->addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		sin->sin_addr.s_addr = cgn_addr_v4(&l->addr);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		memcpy(&sin6->sin6_addr, l->addr.b, 16);
		*len = sizeof(*sin6);
	}
}

struct cgn_log_sink *
cgn_ipfix_open(const struct cgn_config *cfg, char *err, size_t err_len)
{
	const typeof(cfg->logging.ipfix) *c = &cfg->logging.ipfix;
	struct cgn_ipfix_sink *s;

	if (!c->on || c->collector.port == 0) {
		snprintf(err, err_len, "ipfix: no collector configured");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, err_len, "ipfix: out of memory");
		return NULL;
	}
	s->base.name = "ipfix";
	s->base.event = ipfix_event;
	s->base.flush = ipfix_flush;
	s->base.close = ipfix_close;
	s->fd = -1;
	s->tcp = c->tcp;
	s->domain = c->observation_domain;
	s->refresh_ms = (uint64_t)(c->template_refresh_s ? c->template_refresh_s : 1) * 1000;
	s->reconnect_ms = (uint64_t)(c->reconnect_s ? c->reconnect_s : 1) * 1000;
	collector_sockaddr(&c->collector, &s->dst, &s->dst_len);
	s->msg_max = s->tcp ? CGN_IPFIX_TCP_MSG
			    : CGN_IPFIX_UDP_PACKET - 8 - (s->dst.ss_family == AF_INET ? 20 : 40);

	s->model = fbInfoModelAlloc();
	if (model_check(s->model, err, err_len) != 0)
		goto fail;

	if (s->tcp) {
		s->q = malloc(CGN_IPFIX_TCP_QUEUE);
		if (s->q == NULL) {
			snprintf(err, err_len, "ipfix: out of memory");
			goto fail;
		}
		/* Not up yet is not an error: flush() completes or retries the connection. */
		s->state = CONN_DOWN;
		conn_start(s, mono_ms());
		return &s->base;
	}

	s->fd = socket(s->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&s->dst, s->dst_len) != 0) {
		snprintf(err, err_len, "ipfix: UDP socket to the collector: %s", strerror(errno));
		goto fail;
	}
	if (encoder_new(s, err, err_len) != 0)
		goto fail;
	s->state = CONN_UP;
	export_templates(s); /* at the start (RFC 7011 §8.4), then every template_refresh_s */
	return &s->base;

fail:
	encoder_free(s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->model != NULL)
		fbInfoModelFree(s->model);
	free(s->q);
	free(s);
	return NULL;
}
