/* Step "send" out of line (send.h), for the slow paths: held fragments, errors. Worker context. */
#include "send.h"

bool
cgn_send(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_send_inline(w, p);
}
