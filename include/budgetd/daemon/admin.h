/**
 * @file admin.h
 * @brief The admin HTTP endpoint: /metrics, /healthz, /readyz, /status and
 *        the JSON API budgetctl reads (/api/...).
 *
 * Served by libmicrohttpd on its own thread.  That thread never touches the
 * daemon's state: the main loop renders every document on a timer and
 * publishes it here (bd_admin_publish), and a request gets a copy of the
 * latest one.  So a slow or hostile client cannot stall the daemon, and
 * the documents are at most one refresh interval old.  Only GET and HEAD;
 * it binds to loopback by default (admin.listen = 127.0.0.1:9877) because
 * it has no authentication.
 *
 * @locality bd_admin_start/stop/publish: the main loop; the handler: the
 *           server's thread.
 */
#ifndef BUDGETD_ADMIN_H
#define BUDGETD_ADMIN_H

#include <stddef.h>

#include "budgetd/base/common.h"

typedef struct bd_admin_s bd_admin_t;

/** The documents, one per path. */
typedef enum bd_admin_doc_e {
	BD_ADMIN_METRICS, /**< /metrics: Prometheus text format 0.0.4 */
	BD_ADMIN_HEALTHZ, /**< /healthz: 200 ok, 503 degraded (with why) */
	BD_ADMIN_READYZ,  /**< /readyz: 200 once serving, 503 before */
	BD_ADMIN_STATUS,  /**< /status: the HTML status page */
	BD_ADMIN_API_STATUS, /**< /api/status: what the page draws */
	BD_ADMIN_API_CAMPAIGNS,
	BD_ADMIN_API_PLANS,
	BD_ADMIN_API_CLUSTERS,
	BD_ADMIN_API_MODELS,
	BD_ADMIN_API_CONFIG,
	BD_ADMIN_API_HEALTH,
	BD_ADMIN_API_COMMANDS, /**< what became of each control command */
	BD_ADMIN_TEXT_CAMPAIGNS, /**< /text/...: the API as text tables */
	BD_ADMIN_TEXT_PLANS,
	BD_ADMIN_TEXT_CLUSTERS,
	BD_ADMIN_TEXT_MODELS,
	BD_ADMIN_TEXT_CONFIG,
	BD_ADMIN_TEXT_HEALTH,
	BD_ADMIN_TEXT_COMMANDS,
	BD_ADMIN_API_EXPERIMENT, /**< the holdouts' reports (experiment.h) */
	BD_ADMIN_TEXT_EXPERIMENT,
	BD_ADMIN_API_INSTANCE, /**< this instance in its group */
	BD_ADMIN_TEXT_INSTANCE,
	BD_ADMIN__COUNT
} bd_admin_doc_t;

/** "/metrics", "/api/plans", ... */
const char *bd_admin_doc_path(bd_admin_doc_t doc);

/**
 * Listens on @p listen ("HOST:PORT", "[V6]:PORT"; port 0 picks one).
 * @returns 0, or BD_ECONFIG (bad address) / a negative errno (cannot bind) with
 * errstr.  Until a document is published its path answers 503.
 */
int bd_admin_start(const char *listen, bd_admin_t **out, char *errstr,
		   size_t errstr_size) BD_WUR;
/** The port actually bound. */
int bd_admin_port(const bd_admin_t *a);
/** Stops serving (waits for requests in progress) and frees. */
void bd_admin_stop(bd_admin_t *a);

/**
 * Replaces document @p doc by @p body (taken: freed by the admin), served
 * with @p status (200, 503) and @p content_type (a static string).  A
 * text/html document (the status page) also gets a Content-Security-Policy:
 * its own inline script and style, connections to this endpoint only.
 */
void bd_admin_publish(bd_admin_t *a, bd_admin_doc_t doc, int status,
		      const char *content_type, char *body, size_t len);

#endif
