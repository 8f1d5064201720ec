/**
 * @file registry.h
 * @brief A Confluent Schema Registry client: the three calls a Kafka Avro
 *        serializer and deserializer make (register, look up, fetch by id).
 *
 * Subjects follow the TopicNameStrategy: the value schema of topic T is
 * subject "T-value" (bd_registry_subject).  The base URL may list several
 * registries separated by commas; a call tries them in order until one
 * answers (an HTTP error answer is an answer: it is not retried elsewhere).
 * HTTPS and basic authentication are libcurl's.
 *
 * Ownership: the registry copies its settings; calls return malloc'd
 * strings that the caller frees.
 * @locality immutable after bd_registry_new: any thread may call it (each
 *           call makes its own connection); bd_registry_new itself runs on
 *           the main thread before any other thread uses libcurl.
 */
#ifndef BUDGETD_REGISTRY_H
#define BUDGETD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/base/kinds.h" /* bd_msg_kind_t */

typedef struct bd_registry_s bd_registry_t;

typedef struct bd_registry_opts_s {
	const char *urls;      /**< one or more base URLs, comma-separated */
	const char *user_info; /**< "USER:PASSWORD" for basic auth; NULL/"": none */
	int timeout_ms;	       /**< the limit of one call, connection included */
	/** HTTPS: the CA bundle that signed the registry's certificate
	 *  (NULL/"": the system's), and a client certificate and its key for
	 *  mutual TLS (NULL/"": none) */
	const char *ca_file, *cert_file, *key_file;
} bd_registry_opts_t;

/**
 * @returns 0, or BD_ECONFIG with the reason (an empty or non-HTTP URL, a
 *          TLS file that cannot be read).
 */
int bd_registry_new(const bd_registry_opts_t *opts, bd_registry_t **out, char *errstr,
		    size_t errstr_size) BD_WUR;

struct bd_config_s;

/**
 * The registry of the schema.registry.* settings: *@p out NULL (and 0)
 * when schema.registry.url is empty.  Errors name the setting.
 */
int bd_registry_from_config(const struct bd_config_s *cfg, bd_registry_t **out, char *errstr,
			    size_t errstr_size) BD_WUR;

void bd_registry_free(bd_registry_t *r);

/** "TOPIC-value" into @p buf (TopicNameStrategy). */
void bd_registry_subject(const char *topic, char *buf, size_t size);

/**
 * Registers @p schema_json under @p subject (POST /subjects/S/versions),
 * or finds it already there: the registry answers the same id for the same
 * schema.  @returns 0 with the id; BD_ESCHEMA when the registry refuses it
 * (incompatible with the subject's earlier versions: 409, invalid: 422),
 * -EIO when no registry answered (or one answered 5xx); the reason in
 * @p errstr.
 */
int bd_registry_register(const bd_registry_t *r, const char *subject, const char *schema_json,
			 uint32_t *id, char *errstr, size_t errstr_size) BD_WUR;

/**
 * Whether @p schema_json is registered under @p subject (POST
 * /subjects/S).  @returns 0 with its id; BD_EUNKNOWN when it is not (or the
 * subject does not exist); -EIO or BD_ESCHEMA as bd_registry_register.
 */
int bd_registry_lookup(const bd_registry_t *r, const char *subject, const char *schema_json,
		       uint32_t *id, char *errstr, size_t errstr_size) BD_WUR;

/**
 * The schema with @p id (GET /schemas/ids/ID), as JSON text in @p schema_json
 * (malloc'd).  @returns 0; BD_EUNKNOWN when the registry has no such id;
 * BD_ESCHEMA when it is not an Avro schema (schemaType PROTOBUF, JSON);
 * -EIO when no registry answered.
 */
int bd_registry_fetch(const bd_registry_t *r, uint32_t id, char **schema_json, char *errstr,
		      size_t errstr_size) BD_WUR;

/**
 * The Confluent ids of budgetd's own schemas (the .avsc files of schemas/) under their
 * topics' subjects, into @p ids: the kinds in @p register_mask (bit 1 << kind)
 * are registered (with @p auto_register 0 they must be there already), the
 * kinds in @p lookup_mask looked up (0 when not registered: bodies of that
 * kind are then all read through their writers' schemas).  Other kinds keep
 * their id.  Each id is logged.
 * @returns 0, or the first failure with the subject named in @p errstr.
 */
int bd_registry_schema_ids(const bd_registry_t *r, char *const topics[BD_MSG__COUNT],
			   unsigned register_mask, unsigned lookup_mask, int auto_register,
			   int ids[BD_MSG__COUNT], char *errstr, size_t errstr_size) BD_WUR;

#endif
