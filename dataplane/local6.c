/* IPv6 for the CGN itself (pipeline.h cgn_local6): being wired to nd.c / icmp6.c. */
#include "cgn_dataplane.h"

enum cgn_verdict
cgn_local6(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_drop(w, p, CGN_DROP_LOCAL);
}

enum cgn_verdict
cgn_no_route6(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_drop(w, p, CGN_DROP_NO_NAT64);
}
