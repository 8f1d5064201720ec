#include "budgetd/daemon/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "budgetd/base/log.h"

typedef struct doc_s {
	char *body; /* NULL: not published yet */
	size_t len;
	int status;
	const char *type;
} doc_t;

struct bd_admin_s {
	struct MHD_Daemon *mhd;
	uv_mutex_t lock; /* guards docs: published by the main loop */
	doc_t docs[BD_ADMIN__COUNT];
	int port;
};

static const char *const paths[BD_ADMIN__COUNT] = {
	"/metrics",	    "/healthz",	       "/readyz",	"/status",
	"/api/status",	    "/api/campaigns",  "/api/plans",	"/api/clusters",
	"/api/models",	    "/api/config",     "/api/health",	"/api/commands",
	"/text/campaigns",  "/text/plans",     "/text/clusters", "/text/models",
	"/text/config",	    "/text/health",    "/text/commands",  "/api/experiment",
	"/text/experiment", "/api/instance",    "/text/instance",
};

const char *bd_admin_doc_path(bd_admin_doc_t doc)
{
	return (unsigned)doc < BD_ADMIN__COUNT ? paths[doc] : "?";
}

static const char html_csp[] =
	"default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'";

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	/* the status page: its own inline script and style, fetches from here
	 * only; nothing it draws can load or run anything else */
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(r, "Content-Security-Policy", html_csp);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* @locality the server's thread. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	bd_admin_t *a = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	static const char text[] = "text/plain; charset=utf-8";

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "only GET and HEAD\n";
		return reply(conn, 405, text, msg, sizeof(msg) - 1);
	}
	if (strcmp(url, "/") == 0)
		url = "/status";
	for (int i = 0; i < BD_ADMIN__COUNT; i++) {
		if (strcmp(url, paths[i]) != 0)
			continue;
		uv_mutex_lock(&a->lock);
		doc_t *d = &a->docs[i];
		enum MHD_Result ret;
		if (d->body) {
			ret = reply(conn, d->status, d->type, d->body, d->len);
		} else {
			static const char msg[] = "starting\n";
			ret = reply(conn, 503, text, msg, sizeof(msg) - 1);
		}
		uv_mutex_unlock(&a->lock);
		return ret;
	}
	static const char msg[] = "not found; see /status\n";
	return reply(conn, 404, text, msg, sizeof(msg) - 1);
}

/* "HOST:PORT" or "[V6]:PORT" into @p ss. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
			char *errstr, size_t errstr_size)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM},
			*res = NULL;
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host))
		goto bad;
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		goto bad;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(errstr, errstr_size,
		 "admin.listen: '%s' is not HOST:PORT with a numeric address (e.g. "
		 "127.0.0.1:9877 or [::1]:9877)", listen);
	return BD_ECONFIG;
}

int bd_admin_start(const char *listen, bd_admin_t **out, char *errstr, size_t errstr_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bd_admin_t *a;
	int err;

	if ((err = parse_listen(listen, &ss, &sl, errstr, errstr_size)))
		return err;
	if (!(a = calloc(1, sizeof(*a))) || uv_mutex_init(&a->lock) != 0) {
		free(a);
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, a, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				  MHD_OPTION_END);
	if (!a->mhd) {
		snprintf(errstr, errstr_size, "admin.listen: cannot listen on %s: %s", listen,
			 strerror(errno ? errno : EADDRINUSE));
		uv_mutex_destroy(&a->lock);
		free(a);
		return -EADDRNOTAVAIL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : 0;
	*out = a;
	return 0;
}

int bd_admin_port(const bd_admin_t *a)
{
	return a->port;
}

void bd_admin_stop(bd_admin_t *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->mhd);
	for (int i = 0; i < BD_ADMIN__COUNT; i++)
		free(a->docs[i].body);
	uv_mutex_destroy(&a->lock);
	free(a);
}

void bd_admin_publish(bd_admin_t *a, bd_admin_doc_t doc, int status, const char *content_type,
		      char *body, size_t len)
{
	if (!a || (unsigned)doc >= BD_ADMIN__COUNT) {
		free(body);
		return;
	}
	uv_mutex_lock(&a->lock);
	char *old = a->docs[doc].body;
	a->docs[doc] = (doc_t){body, len, status, content_type};
	uv_mutex_unlock(&a->lock);
	free(old);
}
