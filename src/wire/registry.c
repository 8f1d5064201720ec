/*
 * Schema Registry client over libcurl (registry.h).  Requests and answers
 * are JSON (application/vnd.schemaregistry.v1+json), read with Jansson.
 */
#include "budgetd/wire/registry.h"

#include "budgetd/base/config.h"
#include "budgetd/base/log.h"
#include "budgetd/wire/schemas.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_URLS 8
#define MAX_ANSWER (4 << 20) /* a schema larger than this is not one of ours */

struct bd_registry_s {
	int n_urls;
	char *url[MAX_URLS]; /* without a trailing '/' */
	char *user_info, *ca_file, *cert_file, *key_file; /* NULL: none */
	int timeout_ms;
};

/* A copy of @p s, NULL for NULL or "".  @returns -ENOMEM or 0. */
static int opt_dup(const char *s, char **out)
{
	*out = s && *s ? strdup(s) : NULL;
	return s && *s && !*out ? -ENOMEM : 0;
}

typedef struct answer_s {
	char *data;
	size_t len;
	int too_big;
} answer_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	answer_t *a = arg;
	size_t more = size * n;
	if (a->len + more > MAX_ANSWER) {
		a->too_big = 1;
		return 0;
	}
	char *d = realloc(a->data, a->len + more + 1);
	if (!d)
		return 0;
	memcpy(d + a->len, p, more);
	a->data = d;
	a->len += more;
	d[a->len] = '\0';
	return more;
}

int bd_registry_new(const bd_registry_opts_t *opts, bd_registry_t **out, char *errstr,
		    size_t errstr_size)
{
	bd_registry_t *r = calloc(1, sizeof(*r));
	char *copy = strdup(opts->urls ? opts->urls : ""), *save = NULL;
	int err = -ENOMEM;

	if (!r || !copy)
		goto fail;
	for (char *u = strtok_r(copy, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			snprintf(errstr, errstr_size, "'%s' is not an http:// or https:// URL", u);
			err = BD_ECONFIG;
			goto fail;
		}
		if (r->n_urls == MAX_URLS) {
			snprintf(errstr, errstr_size, "more than %d URLs", MAX_URLS);
			err = BD_ECONFIG;
			goto fail;
		}
		size_t len = strlen(u);
		while (len > 0 && u[len - 1] == '/')
			u[--len] = '\0';
		if (!(r->url[r->n_urls++] = strdup(u)))
			goto fail;
	}
	if (r->n_urls == 0) {
		snprintf(errstr, errstr_size, "no URL");
		err = BD_ECONFIG;
		goto fail;
	}
	if (opt_dup(opts->user_info, &r->user_info) || opt_dup(opts->ca_file, &r->ca_file) ||
	    opt_dup(opts->cert_file, &r->cert_file) || opt_dup(opts->key_file, &r->key_file))
		goto fail;
	const char *files[] = {r->ca_file, r->cert_file, r->key_file};
	for (size_t i = 0; i < 3; i++)
		if (files[i] && access(files[i], R_OK) != 0) {
			snprintf(errstr, errstr_size, "%s: %s", files[i], strerror(errno));
			err = BD_ECONFIG;
			goto fail;
		}
	r->timeout_ms = opts->timeout_ms;
	/* before any thread uses libcurl: curl_global_init is not safe to
	 * race with other libcurl calls */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(errstr, errstr_size, "libcurl does not initialise");
		err = BD_ECONFIG;
		goto fail;
	}
	free(copy);
	*out = r;
	return 0;
fail:
	if (err == -ENOMEM)
		snprintf(errstr, errstr_size, "out of memory");
	free(copy);
	bd_registry_free(r);
	return err;
}

void bd_registry_free(bd_registry_t *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_urls; i++)
		free(r->url[i]);
	free(r->user_info);
	free(r->ca_file);
	free(r->cert_file);
	free(r->key_file);
	free(r);
}

int bd_registry_from_config(const struct bd_config_s *cfg, bd_registry_t **out, char *errstr,
			    size_t errstr_size)
{
	bd_registry_opts_t o = {cfg->schema_registry_url, cfg->schema_registry_user_info,
				cfg->schema_registry_timeout_ms, cfg->schema_registry_ca,
				cfg->schema_registry_cert, cfg->schema_registry_key};
	char why[512];
	*out = NULL;
	if (!cfg->schema_registry_url[0])
		return 0;
	int err = bd_registry_new(&o, out, why, sizeof(why));
	if (err)
		snprintf(errstr, errstr_size, "schema.registry.*: %s", why);
	return err;
}

void bd_registry_subject(const char *topic, char *buf, size_t size)
{
	snprintf(buf, size, "%s-value", topic);
}

/* One request to one registry: @p body NULL for GET.  @returns 0 with the
 * HTTP status and the answer, or -EIO (no answer) with the reason. */
static int request_one(const bd_registry_t *r, const char *url, const char *body, long *status,
		       answer_t *a, char *errstr, size_t errstr_size)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	int err = 0;

	if (!h)
		return -ENOMEM;
	hdr = curl_slist_append(hdr, "Accept: application/vnd.schemaregistry.v1+json, "
				     "application/json");
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/vnd.schemaregistry.v1+json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* worker threads: no SIGALRM */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (r->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, r->ca_file);
	if (r->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, r->cert_file);
	if (r->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, r->key_file);
	if (r->user_info) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERPWD, r->user_info);
	}
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(errstr, errstr_size, "%s: %s", url,
			 a->too_big ? "answer larger than 4 MiB"
				    : curl_err[0] ? curl_err : curl_easy_strerror(rc));
		err = -EIO;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return err;
}

/* @p path on each registry in turn until one answers; the answer's JSON in
 * @p json (NULL when it is not JSON). */
static int request(const bd_registry_t *r, const char *path, const char *body, long *status,
		   json_t **json, char *errstr, size_t errstr_size)
{
	int err = -EIO;
	*json = NULL;
	for (int i = 0; i < r->n_urls; i++) {
		char url[2048];
		answer_t a = {0};
		snprintf(url, sizeof(url), "%s%s", r->url[i], path);
		err = request_one(r, url, body, status, &a, errstr, errstr_size);
		if (!err)
			*json = a.data ? json_loads(a.data, 0, NULL) : NULL;
		free(a.data);
		if (!err && *status >= 500 && i + 1 < r->n_urls) {
			json_decref(*json);
			*json = NULL;
			continue; /* this one is unwell: the next may not be */
		}
		if (!err)
			break;
	}
	return err;
}

/* The registry's own words for a refusal: {"error_code": N, "message": M}. */
static int refused(const char *what, long status, json_t *j, char *errstr, size_t errstr_size)
{
	const char *msg = json_string_value(json_object_get(j, "message"));
	snprintf(errstr, errstr_size, "%s: HTTP %ld%s%s", what, status, msg ? ": " : "",
		 msg ? msg : "");
	return status >= 500 || status == 401 || status == 403 ? -EIO : BD_ESCHEMA;
}

static int post_schema(const bd_registry_t *r, const char *path, const char *what,
		       const char *schema_json, uint32_t *id, char *errstr, size_t errstr_size)
{
	json_t *req = json_pack("{s:s}", "schema", schema_json), *ans = NULL;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	long status = 0;
	int err;

	json_decref(req);
	if (!body) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	err = request(r, path, body, &status, &ans, errstr, errstr_size);
	free(body);
	if (err)
		return err;
	json_int_t n = json_integer_value(json_object_get(ans, "id"));
	if (status == 404) {
		snprintf(errstr, errstr_size, "%s: not registered", what);
		err = BD_EUNKNOWN;
	} else if (status != 200) {
		err = refused(what, status, ans, errstr, errstr_size);
	} else if (n <= 0 || n > (json_int_t)UINT32_MAX) {
		snprintf(errstr, errstr_size, "%s: the answer has no schema id", what);
		err = -EIO;
	} else {
		*id = (uint32_t)n;
	}
	json_decref(ans);
	return err;
}

int bd_registry_register(const bd_registry_t *r, const char *subject, const char *schema_json,
			 uint32_t *id, char *errstr, size_t errstr_size)
{
	char path[1024], what[1100];
	snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
	snprintf(what, sizeof(what), "registering under %s", subject);
	int err = post_schema(r, path, what, schema_json, id, errstr, errstr_size);
	return err == BD_EUNKNOWN ? BD_ESCHEMA : err;
}

int bd_registry_lookup(const bd_registry_t *r, const char *subject, const char *schema_json,
		       uint32_t *id, char *errstr, size_t errstr_size)
{
	char path[1024], what[1100];
	snprintf(path, sizeof(path), "/subjects/%s", subject);
	snprintf(what, sizeof(what), "looking up under %s", subject);
	return post_schema(r, path, what, schema_json, id, errstr, errstr_size);
}

int bd_registry_fetch(const bd_registry_t *r, uint32_t id, char **schema_json, char *errstr,
		      size_t errstr_size)
{
	char path[64], what[64];
	json_t *ans = NULL;
	long status = 0;
	int err;

	snprintf(path, sizeof(path), "/schemas/ids/%u", id);
	snprintf(what, sizeof(what), "schema %u", id);
	if ((err = request(r, path, NULL, &status, &ans, errstr, errstr_size)))
		return err;
	const char *s = json_string_value(json_object_get(ans, "schema"));
	const char *type = json_string_value(json_object_get(ans, "schemaType"));
	if (status == 404) {
		snprintf(errstr, errstr_size, "schema %u is not in the registry", id);
		err = BD_EUNKNOWN;
	} else if (status != 200) {
		err = refused(what, status, ans, errstr, errstr_size);
	} else if (type && strcmp(type, "AVRO") != 0) {
		snprintf(errstr, errstr_size, "schema %u is a %s schema, not Avro", id, type);
		err = BD_ESCHEMA;
	} else if (!s) {
		snprintf(errstr, errstr_size, "schema %u: the answer has no schema", id);
		err = -EIO;
	} else if (!(*schema_json = strdup(s))) {
		err = -ENOMEM;
	}
	json_decref(ans);
	return err;
}

int bd_registry_schema_ids(const bd_registry_t *r, char *const topics[BD_MSG__COUNT],
			   unsigned register_mask, unsigned lookup_mask, int auto_register,
			   int ids[BD_MSG__COUNT], char *errstr, size_t errstr_size)
{
	for (int k = 0; k < BD_MSG__COUNT; k++) {
		bool reg = register_mask & (1u << k), look = lookup_mask & (1u << k);
		const char *json = bd_schemas_get(bd_msg_kind_name((bd_msg_kind_t)k));
		char subject[256], why[1024];
		uint32_t id = 0;
		int err;
		if (!reg && !look)
			continue;
		bd_registry_subject(topics[k], subject, sizeof(subject));
		err = reg && auto_register ? bd_registry_register(r, subject, json, &id, why, sizeof(why))
					   : bd_registry_lookup(r, subject, json, &id, why, sizeof(why));
		if (err == BD_EUNKNOWN && !reg) {
			bd_info("schema registry: %s of %s is not registered under %s: every %s is read "
				"through its writer's schema", bd_msg_kind_name((bd_msg_kind_t)k),
				topics[k], subject, bd_msg_kind_name((bd_msg_kind_t)k));
			ids[k] = 0;
			continue;
		}
		if (err) {
			snprintf(errstr, errstr_size, "schema registry: %s%s", why,
				 err == BD_EUNKNOWN ? " (schema.registry.auto.register is 0: register "
						      "it first)"
						    : "");
			return err;
		}
		bd_info("schema registry: %s is schema %u under %s", bd_msg_kind_name((bd_msg_kind_t)k),
			id, subject);
		ids[k] = (int)id;
	}
	return 0;
}
