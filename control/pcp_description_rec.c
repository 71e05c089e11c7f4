/*
 * DESCRIPTION (RFC 7220) on the server's records: reading the option of a MAP or PEER request
 * (§3: valid UTF-8 or ignored; stored cut to pcp.description_max), the text each mapping (MAP
 * part) and PEER session owns, and the copy of the mappings' texts the telemetry thread reads
 * (srv->descriptions, pcp_description.h).
 *
 * Ownership: rec->description is malloc'd memory (jemalloc in cgnatd) that the record owns;
 * NULL with length 0 when it has none. It changes only here, and only once the request's
 * change is certain, so the rollback idiom of mappings.c (`old = *rec ... *rec = old`) never
 * brings back a freed pointer. Control thread only, but for pcp_server_description().
 */
#include <stdlib.h>
#include <string.h>

#include "pcp_server_int.h"

bool
pcp_description_read(struct pcp_server *srv, const struct pcp_option *opt, uint16_t *len)
{
	/* §3: "If the PCP client request contains invalid DESCRIPTION options (e.g., the content
	 * is not a legal UTF-8 string), the PCP server MUST ignore the request (i.e., MUST NOT
	 * return a DESCRIPTION option in the response)." Ignored is the option: the request is
	 * served as one without it (§3 ¶2: a server "MAY ignore the DESCRIPTION option"). */
	if (!pcp_utf8_valid(opt->data, opt->len)) {
		srv->stats.descriptions_invalid++;
		return false;
	}
	/* §3: "it first stores the value of the received Description field, truncating it if it
	 * cannot store the entire value": never half a character. */
	*len = (uint16_t)pcp_utf8_prefix(opt->data, opt->len, srv->cfg.pcp.description_max);
	return true;
}

void
pcp_description_place(struct pcp_response *resp, bool keep)
{
	struct pcp_option desc = { 0 };
	bool found = false;
	uint16_t n = 0;
	for (uint16_t i = 0; i < resp->n_options; i++) {
		if (resp->options[i].code == PCP_OPT_DESCRIPTION) {
			desc = resp->options[i];
			found = true;
		} else {
			resp->options[n++] = resp->options[i];
		}
	}
	if (found && keep)
		resp->options[n++] = desc;
	resp->n_options = n;
}

/* Replaces *text with a copy of src[0..len) (NULL for 0). @return false if memory is short. */
static bool
replace_text(char **text, uint16_t *text_len, bool *has, const uint8_t *src, uint16_t len)
{
	char *copy = NULL;
	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return false;
		memcpy(copy, src, len);
	}
	free(*text);
	*text = copy;
	*text_len = len;
	*has = len > 0; /* an empty one erases it (§3) */
	return true;
}

bool
pcp_description_mapping_set(struct pcp_server *srv, struct pcp_mapping_rec *rec, const uint8_t *text,
			    uint16_t len)
{
	if (!replace_text(&rec->description, &rec->description_len, &rec->has_description, text, len)) {
		srv->stats.descriptions_unstored++;
		return false;
	}
	if (len == 0)
		pcp_desc_index_del(srv->descriptions, &rec->in);
	else if (pcp_desc_index_set(srv->descriptions, &rec->in, text, len) != 0)
		srv->stats.descriptions_unstored++; /* stored and echoed; only telemetry misses it */
	return true;
}

void
pcp_description_mapping_clear(struct pcp_server *srv, struct pcp_mapping_rec *rec)
{
	if (rec->description == NULL && !rec->has_description)
		return;
	free(rec->description);
	rec->description = NULL;
	rec->description_len = 0;
	rec->has_description = false;
	pcp_desc_index_del(srv->descriptions, &rec->in);
}

bool
pcp_description_peer_set(struct pcp_server *srv, struct pcp_peer_rec *p, const uint8_t *text, uint16_t len)
{
	if (!replace_text(&p->description, &p->description_len, &p->has_description, text, len)) {
		srv->stats.descriptions_unstored++;
		return false;
	}
	return true;
}

void
pcp_description_peer_clear(struct pcp_peer_rec *p)
{
	free(p->description);
	p->description = NULL;
	p->description_len = 0;
	p->has_description = false;
}

static void
free_mapping_text(void *r, void *arg)
{
	(void)arg;
	struct pcp_mapping_rec *rec = r;
	free(rec->description);
	rec->description = NULL;
}

static void
free_peer_text(void *r, void *arg)
{
	(void)arg;
	pcp_description_peer_clear(r);
}

void
pcp_description_free_all(struct pcp_server *srv)
{
	uint32_t cursor = 0;
	if (srv->mappings)
		rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), free_mapping_text, NULL);
	cursor = 0;
	if (srv->peers)
		rec_db_scan(srv->peers, &cursor, rec_db_capacity(srv->peers), free_peer_text, NULL);
	pcp_desc_index_free(srv->descriptions);
	srv->descriptions = NULL;
}

bool
pcp_server_description(struct pcp_server *srv, const struct cgn_key *in, char *out, size_t cap, uint16_t *stored_len)
{
	return pcp_desc_index_get(srv->descriptions, in, out, cap, stored_len);
}
