/*
 * budgetctl: the operator's command line for budgetd.
 *
 * Reads come from a daemon's admin endpoint (text tables, or the JSON API
 * with --json); changes are control commands on the Kafka control topic,
 * so every instance applies them, in one order, and they survive restarts
 * (the topic is replayed at start).  The same configuration file as the
 * daemon (-c) gives the topic names, schema ids and kafka.* settings (SASL,
 * TLS); without --bootstrap the brokers are the ones the daemon reports.
 *
 * A change waits for its outcome in the daemon's command log
 * (/api/commands): exit 0 applied, 1 refused (with the daemon's reason),
 * 2 no outcome in time (not delivered, or no daemon applied it); --no-wait
 * only sends.  Usage errors exit 64 (EX_USAGE).
 *
 *   budgetctl [--admin HOST:PORT] [--bootstrap SERVERS] [-c FILE] [-X K=V]
 *             [--json] [--no-wait] [--timeout S] COMMAND
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <sysexits.h>

#include <librdkafka/rdkafka.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/config.h"
#include "budgetd/base/log.h"
#include "budgetd/base/sbuf.h"
#include "budgetd/serve/kafka.h"
#include "budgetd/wire/messages.h"
#include "budgetd/wire/registry.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: budgetctl [options] COMMAND\n"
		"commands:\n"
		"  show campaigns|plans|clusters|models|config|health|experiment|instance\n"
		"  show commands [CAMPAIGN]     what became of the control commands read\n"
		"  show campaign CAMPAIGN       its row, its plan and its commands\n"
		"  create CAMPAIGN SETTING...   a new campaign; SETTING is KEY=VALUE or @FILE\n"
		"                               (a file of KEY=VALUE lines, # comments):\n"
		"                               treatment=ID:NAME:COST (repeat; 0 is the\n"
		"                               control at cost 0), budget=, exploration=,\n"
		"                               timezone_offset_s=, max_value=, max_cost=,\n"
		"                               winsor_value=, holdout= (share of users given\n"
		"                               no incentive, 0 to 0.5: show experiment),\n"
		"                               uniform_arm= (share of users given uniform\n"
		"                               random coupons at their share of the budget,\n"
		"                               0 to 0.5: the plan against uniform)\n"
		"  update CAMPAIGN SETTING...   change an existing campaign (the same keys;\n"
		"                               treatments given replace them all)\n"
		"  set-budget CAMPAIGN AMOUNT   change a campaign's daily budget\n"
		"  set-bounds CAMPAIGN KEY=VALUE...\n"
		"                               a campaign's outcome bounds: max_value,\n"
		"                               max_cost, winsor_value (per outcome)\n"
		"  pause CAMPAIGN | resume CAMPAIGN\n"
		"  solve [CAMPAIGN]             re-solve now (every campaign by default)\n"
		"  retrain [CAMPAIGN]           retrain the cluster model now (the model is\n"
		"                               shared; CAMPAIGN, default the first, only\n"
		"                               carries the command)\n"
		"options:\n"
		"  --admin HOST:PORT     the daemon's admin endpoint (default 127.0.0.1:9877)\n"
		"  --bootstrap SERVERS   Kafka brokers for changes (default: the daemon's)\n"
		"  -c, --config FILE     budgetd's configuration (topics, schema ids, kafka.*)\n"
		"  -X, --set KEY=VALUE   one setting, as for budgetd\n"
		"  --json                print the admin API's JSON instead of tables\n"
		"  --no-wait             send changes without waiting for their outcome\n"
		"  --timeout SECONDS     wait this long for an outcome (default 30; retrain 600)\n"
		"  -h, --help\n"
		"exit status: 0 done (a change applied), 1 failed or refused, 2 no outcome\n"
		"in time (a change not delivered or not applied), 64 usage\n");
}

/* ---- the admin endpoint ------------------------------------------------------ */

/* GET @p path from @p admin ("HOST:PORT"); the body in *body (malloc'ed).
 * @returns the HTTP status, or -1 with errstr. */
static int http_get(const char *admin, const char *path, char **body, char *errstr,
		    size_t errstr_size)
{
	char host[256], req[512];
	const char *colon = strrchr(admin, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int fd = -1, status = -1;
	size_t len = 0, cap = 0;
	char *buf = NULL;

	*body = NULL;
	if (!colon || (size_t)(colon - admin) >= sizeof(host)) {
		snprintf(errstr, errstr_size, "--admin: '%s' is not HOST:PORT", admin);
		return -1;
	}
	const char *h = admin;
	size_t hl = (size_t)(colon - admin);
	if (h[0] == '[' && hl >= 2) {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	int gai = getaddrinfo(host, colon + 1, &hints, &res);
	if (gai) {
		snprintf(errstr, errstr_size, "--admin %s: %s", admin, gai_strerror(gai));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	struct timeval tv = {10, 0};
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		snprintf(errstr, errstr_size,
			 "cannot reach budgetd's admin endpoint at %s: %s (is the daemon "
			 "running? see admin.listen)", admin, strerror(errno));
		goto out;
	}
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: budgetctl\r\n\r\n", path,
			 admin);
	if (write(fd, req, (size_t)n) != n) {
		snprintf(errstr, errstr_size, "%s: write: %s", admin, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 16384);
			if (!nb) {
				snprintf(errstr, errstr_size, "out of memory");
				goto out;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			snprintf(errstr, errstr_size, "%s: read: %s", admin, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || !sep || sscanf(buf + 8, " %d", &status) != 1) {
		snprintf(errstr, errstr_size, "%s: not an HTTP answer", admin);
		status = -1;
		goto out;
	}
	*body = strdup(sep + 4);
	if (!*body) {
		snprintf(errstr, errstr_size, "out of memory");
		status = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	free(buf);
	return status;
}

/* @p cp as UTF-8 at @p out (room for 3 bytes); @returns the bytes written. */
static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | cp >> 12);
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* The string value of "key":"..." in @p doc (our own documents, where a key
 * is never followed by a string holding the same quoted key: quotes inside
 * strings are escaped), unescaped into @p out.  @returns 0, or -1 when absent,
 * malformed or longer than @p size. */
static int json_field(const char *doc, const char *key, char *out, size_t size)
{
	char pat[64];
	size_t n = 0;
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(doc, pat);
	if (!p)
		return -1;
	for (p += strlen(pat); *p != '"'; p++) {
		char tmp[4];
		size_t k = 1;
		tmp[0] = *p;
		if (*p == '\0')
			return -1;
		if (*p == '\\') {
			static const char from[] = "nrtbf", to[] = "\n\r\t\b\f";
			const char *e = *++p ? strchr(from, *p) : NULL;
			unsigned cp;
			if (*p == 'u' && isxdigit((unsigned char)p[1]) &&
			    isxdigit((unsigned char)p[2]) && isxdigit((unsigned char)p[3]) &&
			    isxdigit((unsigned char)p[4]) && sscanf(p + 1, "%4x", &cp) == 1) {
				k = utf8_put(tmp, cp);
				p += 4;
			} else if (*p == '\0') {
				return -1;
			} else {
				tmp[0] = e ? to[e - from] : *p; /* \" \\ \/ */
			}
		}
		if (n + k >= size)
			return -1;
		memcpy(out + n, tmp, k);
		n += k;
	}
	out[n] = '\0';
	return 0;
}

/* The line of @p doc holding "key":"value" (@p value JSON-escaped first),
 * copied into a malloc'ed string (NULL: none, or out of memory).  Our
 * /api/commands writes one object per line. */
static char *json_line_with(const char *doc, const char *key, const char *value)
{
	bd_sbuf_t pat = BD_SBUF_INIT;
	bd_sbuf_printf(&pat, "\"%s\":", key);
	bd_sbuf_json_str(&pat, value);
	const char *hit = pat.s ? strstr(doc, pat.s) : NULL;
	bd_sbuf_free(&pat);
	if (!hit)
		return NULL;
	const char *b = hit, *e = hit + strcspn(hit, "\n");
	while (b > doc && b[-1] != '\n')
		b--;
	return strndup(b, (size_t)(e - b));
}

/* ---- control commands ---------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	*(rd_kafka_resp_err_t *)opaque = m->err;
}

/* The schema ids to write: schema.id.*, or with schema.registry.url the id
 * of ControlCommand under the control topic's subject, registered there as
 * Kafka's Avro serializers do (schema.registry.auto.register). */
static int schema_ids(const bd_config_t *cfg, uint32_t ids[BD_MSG__COUNT], char *errstr,
		      size_t errstr_size)
{
	bd_registry_t *reg = NULL;
	int tmp[BD_MSG__COUNT], err;
	for (int k = 0; k < BD_MSG__COUNT; k++)
		ids[k] = (uint32_t)(tmp[k] = cfg->schema_id[k]);
	if (!cfg->schema_registry_url[0])
		return 0;
	if ((err = bd_registry_from_config(cfg, &reg, errstr, errstr_size)) ||
	    (err = bd_registry_schema_ids(reg, cfg->topic, 1u << BD_MSG_CONTROL, 0,
					  cfg->schema_registry_auto_register, tmp, errstr,
					  errstr_size))) {
		bd_registry_free(reg);
		return err;
	}
	bd_registry_free(reg);
	ids[BD_MSG_CONTROL] = (uint32_t)tmp[BD_MSG_CONTROL];
	return 0;
}

/* Produces the commands and waits for the broker to have them all (saying
 * so unless @p quiet).  @returns 0, or 2 (not delivered) after saying why. */
static int send_commands(const bd_config_t *cfg, const char *bootstrap,
			 const bd_control_command_t *cmds, int n, int quiet)
{
	uint32_t ids[BD_MSG__COUNT];
	char errstr[512];
	bd_codec_t *codec = NULL;
	bd_buf_t b = {0};
	rd_kafka_t *rk = NULL;
	rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
	int rc = 2;
	rd_kafka_conf_t *conf = bd_kafka_conf_new(cfg, bootstrap, RD_KAFKA_PRODUCER, errstr, sizeof(errstr));

	if (!conf)
		goto fail;
	if (bd_kafka_conf_set(conf, "client.id", "budgetctl", errstr, sizeof(errstr)) ||
	    bd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)) ||
	    bd_kafka_conf_set(conf, "message.timeout.ms", "15000", errstr, sizeof(errstr))) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_opaque(conf, &last);
	if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	if (schema_ids(cfg, ids, errstr, sizeof(errstr)) ||
	    bd_codec_new(ids, bd_config_output_format(cfg), &codec, errstr, sizeof(errstr)))
		goto fail;
	for (int i = 0; i < n; i++) {
		if (bd_encode_control(codec, &cmds[i], &b)) {
			snprintf(errstr, sizeof(errstr), "cannot encode the command");
			goto fail;
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(cfg->topic[BD_MSG_CONTROL]),
			RD_KAFKA_V_KEY(cmds[i].campaign_id, strlen(cmds[i].campaign_id)),
			RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_END);
		if (e) {
			snprintf(errstr, sizeof(errstr), "produce: %s", rd_kafka_err2str(e));
			goto fail;
		}
	}
	if (rd_kafka_flush(rk, 20000) != RD_KAFKA_RESP_ERR_NO_ERROR || last) {
		snprintf(errstr, sizeof(errstr), "the control topic %s did not take the command: %s",
			 cfg->topic[BD_MSG_CONTROL],
			 rd_kafka_err2str(last ? last : RD_KAFKA_RESP_ERR__TIMED_OUT));
		goto fail;
	}
	for (int i = 0; i < n && !quiet; i++)
		printf("sent %s %s (command %s) to %s\n", bd_action_name(cmds[i].action),
		       cmds[i].campaign_id, cmds[i].command_id, cfg->topic[BD_MSG_CONTROL]);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "budgetctl: %s\n", errstr);
out:
	if (rk)
		rd_kafka_destroy(rk);
	bd_codec_free(codec);
	bd_buf_free(&b);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "max_value=X" etc. of set-bounds into @p cmd.  @returns 0, or -1 after
 * saying why (the same ranges as the daemon's decoder). */
static int parse_bound(const char *what, const char *arg, bd_control_command_t *cmd)
{
	static const char *const keys[] = {"max_value", "max_cost", "winsor_value"};
	bool *has[] = {&cmd->has_max_value, &cmd->has_max_cost, &cmd->has_winsor_value};
	double *val[] = {&cmd->max_value, &cmd->max_cost, &cmd->winsor_value};
	const char *eq = strchr(arg, '=');
	for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i]) != (size_t)(eq - arg) || strncmp(arg, keys[i], (size_t)(eq - arg)))
			continue;
		char *end;
		double x = strtod(eq + 1, &end);
		if (eq[1] == '\0' || *end || !(x <= BD_OUTCOME_BOUND_MAX) || x < 0 ||
		    (x == 0 && i != 1)) {
			fprintf(stderr, "budgetctl: %s: %s must be %s 0 and at most %g, not "
					"'%s'\n", what, keys[i], i == 1 ? ">=" : ">",
				BD_OUTCOME_BOUND_MAX, eq + 1);
			return -1;
		}
		*has[i] = true;
		*val[i] = x;
		return 0;
	}
	fprintf(stderr, "budgetctl: %s: '%s' is not max_value=, max_cost= or "
			"winsor_value=\n", what, arg);
	return -1;
}

/* ---- create and update: a campaign's settings ----------------------------------- */

/* The treatments' names (the command points into it). */
typedef struct {
	char name[BD_MAX_TREATMENTS][128];
	int depth; /* of @FILE inclusion */
} settings_buf_t;

/* "X" as a number in [lo, hi] into @p out.  @returns 0, or -1 after saying
 * why. */
static int parse_num(const char *what, const char *key, const char *v, double lo, double hi,
		     double *out)
{
	char *end;
	double x = strtod(v, &end);
	if (v[0] == '\0' || *end || !(x >= lo && x <= hi)) {
		fprintf(stderr, "budgetctl: %s: %s must be a number in [%g, %g], not '%s'\n", what,
			key, lo, hi, v);
		return -1;
	}
	*out = x;
	return 0;
}

/* treatment=ID:NAME:COST (NAME may hold colons: split at the first and the
 * last) into @p cmd.  @returns 0, or -1 after saying why. */
static int parse_treatment(const char *what, const char *v, bd_control_command_t *cmd,
			   settings_buf_t *sb)
{
	const char *c1 = strchr(v, ':'), *c2 = strrchr(v, ':');
	char idbuf[16];
	double id, cost;
	if (!c1 || c1 == c2 || (size_t)(c1 - v) >= sizeof(idbuf) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(sb->name[0]) || c2 == c1 + 1) {
		fprintf(stderr, "budgetctl: %s: treatment '%s' is not ID:NAME:COST (e.g. "
				"1:coupon 5:5)\n", what, v);
		return -1;
	}
	memcpy(idbuf, v, (size_t)(c1 - v));
	idbuf[c1 - v] = '\0';
	if (parse_num(what, "a treatment's ID", idbuf, 0, BD_MAX_TREATMENTS - 1, &id) ||
	    id != (int)id || parse_num(what, "a treatment's COST", c2 + 1, 0, 1e15, &cost))
		return -1;
	if (cmd->n_treatments == BD_MAX_TREATMENTS) {
		fprintf(stderr, "budgetctl: %s: more than %d treatments\n", what,
			BD_MAX_TREATMENTS);
		return -1;
	}
	int j = cmd->n_treatments++;
	memcpy(sb->name[j], c1 + 1, (size_t)(c2 - c1 - 1));
	sb->name[j][c2 - c1 - 1] = '\0';
	cmd->treatments[j] = (bd_treatment_t){.id = (int)id, .name = sb->name[j],
					      .nominal_cost = cost};
	cmd->has_treatments = true;
	return 0;
}

static int parse_setting(const char *what, const char *arg, bd_control_command_t *cmd,
			 settings_buf_t *sb);

/* @FILE: each line KEY=VALUE (blank lines and # comments skipped; spaces
 * around the key and the value trimmed).  @returns 0, or -1 after saying why. */
static int parse_settings_file(const char *what, const char *path, bd_control_command_t *cmd,
			       settings_buf_t *sb)
{
	char line[1024];
	int lineno = 0, rc = 0;
	FILE *f = sb->depth < 4 ? fopen(path, "r") : NULL;
	if (!f) {
		fprintf(stderr, "budgetctl: %s: @%s: %s\n", what, path,
			sb->depth < 4 ? strerror(errno) : "files include each other too deep");
		return -1;
	}
	sb->depth++;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *b = line, *e;
		lineno++;
		b += strspn(b, " \t");
		e = b + strlen(b);
		while (e > b && strchr(" \t\r\n", e[-1]))
			*--e = '\0';
		if (*b == '\0' || *b == '#')
			continue;
		char *eq = strchr(b, '=');
		if (eq) { /* "key = value" */
			char *k = eq;
			while (k > b && strchr(" \t", k[-1]))
				k--;
			char *v = eq + 1 + strspn(eq + 1, " \t");
			memmove(k + 1, v, strlen(v) + 1);
			*k = '=';
		}
		char where[512];
		snprintf(where, sizeof(where), "%s: %s:%d", what, path, lineno);
		rc = parse_setting(where, b, cmd, sb);
	}
	sb->depth--;
	fclose(f);
	return rc;
}

/* One SETTING of create or update into @p cmd.  @returns 0, or -1 after
 * saying why. */
static int parse_setting(const char *what, const char *arg, bd_control_command_t *cmd,
			 settings_buf_t *sb)
{
	const char *eq = strchr(arg, '=');
	double x;
	if (arg[0] == '@')
		return parse_settings_file(what, arg + 1, cmd, sb);
	if (!eq) {
		fprintf(stderr, "budgetctl: %s: '%s' is not KEY=VALUE or @FILE\n", what, arg);
		return -1;
	}
	size_t kl = (size_t)(eq - arg);
	const char *v = eq + 1;
#define KEY_IS(k) (kl == strlen(k) && strncmp(arg, k, kl) == 0)
	if (KEY_IS("treatment"))
		return parse_treatment(what, v, cmd, sb);
	if (KEY_IS("budget") || KEY_IS("daily_budget")) {
		cmd->has_budget = true;
		return parse_num(what, "budget", v, 0, 1e15, &cmd->daily_budget);
	}
	if (KEY_IS("exploration")) {
		cmd->has_exploration = true;
		return parse_num(what, "exploration", v, 0, 1, &cmd->exploration);
	}
	if (KEY_IS("timezone_offset_s")) {
		if (parse_num(what, "timezone_offset_s", v, -14 * 3600, 14 * 3600, &x) ||
		    x != (int32_t)x)
			return -1;
		cmd->has_tz = true;
		cmd->timezone_offset_s = (int32_t)x;
		return 0;
	}
	if (KEY_IS("max_value") || KEY_IS("max_cost") || KEY_IS("winsor_value"))
		return parse_bound(what, arg, cmd);
	if (KEY_IS("holdout")) {
		cmd->has_holdout = true;
		return parse_num(what, "holdout", v, 0, BD_HOLDOUT_MAX, &cmd->holdout);
	}
	if (KEY_IS("uniform_arm")) {
		cmd->has_uniform_arm = true;
		return parse_num(what, "uniform_arm", v, 0, BD_HOLDOUT_MAX, &cmd->uniform_arm);
	}
#undef KEY_IS
	fprintf(stderr, "budgetctl: %s: keys are treatment, budget, exploration, "
			"timezone_offset_s, max_value, max_cost, winsor_value, holdout, "
			"uniform_arm\n", what);
	return -1;
}

/* Campaign ids from the admin's campaign table (first column). */
static int campaign_ids(const char *admin, char ids[][BD_ID_MAX], int max)
{
	char *body, errstr[512];
	int n = 0, st = http_get(admin, "/text/campaigns", &body, errstr, sizeof(errstr));
	if (st != 200) {
		fprintf(stderr, "budgetctl: %s\n", st < 0 ? errstr : "cannot list campaigns");
		free(body);
		return -1;
	}
	char *save = NULL;
	for (char *l = strtok_r(body, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, "CAMPAIGN ", 9) != 0 && sscanf(l, "%127s", ids[n]) == 1)
			n++;
	free(body);
	return n;
}

/* ---- outcomes: the daemon's command log ------------------------------------------ */

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the command log says of command @p id in @p doc: 0 none yet, 1 applied,
 * 2 refused (or ignored as a duplicate), 3 running; its detail in @p detail. */
static int outcome_of(const char *doc, const char *id, char *detail, size_t size)
{
	char status[32];
	char *line = json_line_with(doc, "command_id", id);
	int r = 0;
	detail[0] = '\0';
	if (line && json_field(line, "status", status, sizeof(status)) == 0) {
		(void)json_field(line, "detail", detail, size);
		r = !strcmp(status, "applied") ? 1 : !strcmp(status, "running") ? 3 : 2;
	}
	free(line);
	return r;
}

/* Waits up to @p timeout_s for the outcome of each of @p cmds in the command
 * log at @p admin, printing each as it comes.  @returns the exit status: 0
 * all applied, 1 one refused, 2 one without an outcome in time. */
static int wait_outcomes(const char *admin, const bd_control_command_t *cmds, int n,
			 double timeout_s)
{
	int state[64] = {0}, left = n, refused = 0, st = -1;
	char detail[1024], errstr[512];
	const double deadline = mono_s() + timeout_s;
	for (;;) {
		char *body = NULL;
		st = http_get(admin, "/api/commands", &body, errstr, sizeof(errstr));
		for (int i = 0; st == 200 && i < n; i++) {
			int o = state[i] == 1 || state[i] == 2 ? 0
				: outcome_of(body, cmds[i].command_id, detail, sizeof(detail));
			if (!o || o == state[i])
				continue;
			state[i] = o;
			FILE *f = o == 2 ? stderr : stdout;
			fprintf(f, "%s%s %s %s: %s\n", o == 2 ? "budgetctl: " : "",
				o == 1 ? "applied" : o == 2 ? "REFUSED" : "running",
				bd_action_name(cmds[i].action), cmds[i].campaign_id, detail);
			left -= o != 3;
			refused += o == 2;
		}
		free(body);
		if (!left || mono_s() >= deadline)
			break;
		usleep(100000);
	}
	for (int i = 0; i < n; i++)
		if (state[i] == 0 || state[i] == 3)
			fprintf(stderr, "budgetctl: %s %s (command %s): no outcome within %g s: %s\n",
				bd_action_name(cmds[i].action), cmds[i].campaign_id,
				cmds[i].command_id, timeout_s,
				state[i] == 3 ? "still running"
				: st < 0 ? errstr
					 : "no daemon at the admin endpoint has read it from the "
					   "control topic (is it running, and on these brokers?)");
	return left ? 2 : refused ? 1 : 0;
}

/* Whether campaign @p id exists at @p admin: 1 yes, 0 no, -1 cannot tell
 * (said). */
static int campaign_exists(const char *admin, const char *id)
{
	char *body, errstr[512];
	int st = http_get(admin, "/api/campaigns", &body, errstr, sizeof(errstr));
	if (st != 200) {
		fprintf(stderr, "budgetctl: %s\n",
			st < 0 ? errstr : "the admin endpoint did not list the campaigns");
		free(body);
		return -1;
	}
	bd_sbuf_t pat = BD_SBUF_INIT;
	bd_sbuf_cat(&pat, "\"id\":");
	bd_sbuf_json_str(&pat, id);
	int r = pat.s && strstr(body, pat.s) ? 1 : 0;
	bd_sbuf_free(&pat);
	free(body);
	return r;
}

/* show commands [CAMPAIGN]: the command log, or the lines of one campaign.
 * @returns the exit status. */
static int show_commands(const char *admin, const char *campaign, int json)
{
	char *body, errstr[512], v[8][400];
	static const char *const keys[] = {"applied", "campaign_id", "action", "status",
					   "command_id", "detail"};
	int st = http_get(admin, "/api/commands", &body, errstr, sizeof(errstr));
	if (st != 200) {
		fprintf(stderr, "budgetctl: %s\n", st < 0 ? errstr : "no command log");
		free(body);
		return 1;
	}
	bd_sbuf_t pat = BD_SBUF_INIT;
	if (campaign) {
		bd_sbuf_cat(&pat, "\"campaign_id\":");
		bd_sbuf_json_str(&pat, campaign);
	}
	if (!json)
		printf("%-24s %-16s %-9s %-40s %s\n", "APPLIED (UTC)", "ACTION", "STATUS",
		       "COMMAND", campaign ? "DETAIL" : "CAMPAIGN: DETAIL");
	else
		printf("%s", json == 2 ? "[" : "{\"commands\":["); /* 2: nested */
	char *save = NULL;
	int shown = 0;
	for (char *l = strtok_r(body, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(l);
		if (len && l[len - 1] == ',') /* between objects */
			l[--len] = '\0';
		if (strncmp(l, "{\"seq\":", 7) != 0 || (campaign && (!pat.s || !strstr(l, pat.s))))
			continue;
		if (json) {
			printf("%s\n%s", shown++ ? "," : "", l);
			continue;
		}
		for (size_t k = 0; k < BD_ARRAY_SIZE(keys); k++)
			if (json_field(l, keys[k], v[k], sizeof(v[k])))
				snprintf(v[k], sizeof(v[k]), "?");
		printf("%-24s %-16s %-9s %-40s %s%s%s\n", v[0], v[2], v[3], v[4],
		       campaign ? "" : v[1], campaign ? "" : ": ", v[5]);
	}
	if (json)
		printf("%s", json == 2 ? "]" : "\n]}\n");
	bd_sbuf_free(&pat);
	free(body);
	return 0;
}

/* ---- the command line --------------------------------------------------------- */

/* What the options say: where the daemon is, how to print, the settings. */
typedef struct {
	const char *admin, *bootstrap, *file;
	int json, no_wait;
	double timeout_s; /* < 0: the command's default */
	bd_config_t cfg;
} ctl_t;

/* The options into @p o, the -X settings into @p sets.  @returns 0, 1 after
 * --help, or -1 after the usage. */
static int parse_options(int argc, char **argv, ctl_t *o, char **sets, int *nsets)
{
	static const struct option opts[] = {
		{"admin", required_argument, NULL, 'a'},   {"bootstrap", required_argument, NULL, 'b'},
		{"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 'X'},
		{"json", no_argument, NULL, 'j'},	   {"help", no_argument, NULL, 'h'},
		{"no-wait", no_argument, NULL, 'n'},	   {"timeout", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;
	while ((c = getopt_long(argc, argv, "c:X:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o->admin = optarg; break;
		case 'b': o->bootstrap = optarg; break;
		case 'c': o->file = optarg; break;
		case 'X': sets[(*nsets)++] = optarg; break;
		case 'j': o->json = 1; break;
		case 'n': o->no_wait = 1; break;
		case 't':
			o->timeout_s = strtod(optarg, &end);
			if (*end || !(o->timeout_s > 0 && o->timeout_s <= 86400)) {
				fprintf(stderr, "budgetctl: --timeout: '%s' is not a number of "
						"seconds in (0, 86400]\n", optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

/* The configuration file, then each -X KEY=VALUE over it.  @returns 0, or -1
 * after saying why. */
static int apply_settings(ctl_t *o, char **sets, int nsets)
{
	char errstr[1024];
	if (o->file && bd_config_load_file(&o->cfg, o->file, errstr, sizeof(errstr))) {
		fprintf(stderr, "budgetctl: %s\n", errstr);
		return -1;
	}
	for (int i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');
		if (!eq) {
			fprintf(stderr, "budgetctl: -X %s: expected KEY=VALUE\n", sets[i]);
			return -1;
		}
		*eq = '\0';
		int e = bd_config_set(&o->cfg, sets[i], eq + 1, errstr, sizeof(errstr));
		*eq = '=';
		if (e) {
			fprintf(stderr, "budgetctl: -X %s: %s\n", sets[i], errstr);
			return -1;
		}
	}
	return 0;
}

/* The JSON object of @p doc that starts {"key":VALUE (@p value escaped),
 * printed whole (its end found by counting braces outside strings).
 * @returns 0, -1 if there is none. */
static int print_object(const char *doc, const char *key, const char *value)
{
	bd_sbuf_t pat = BD_SBUF_INIT;
	bd_sbuf_printf(&pat, "{\"%s\":", key);
	bd_sbuf_json_str(&pat, value);
	const char *b = pat.s ? strstr(doc, pat.s) : NULL, *p = b;
	bd_sbuf_free(&pat);
	for (int depth = 0, in_str = 0; p && *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"') {
			in_str = 1;
		} else if ((*p == '{' || *p == '[') ) {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			printf("%.*s", (int)(p + 1 - b), b);
			return 0;
		}
	}
	return -1;
}

/* The lines of the text table @p doc for campaign @p id: its row in the
 * campaigns table (ids are cut at 24 characters there), or its block in the
 * plans text ("campaign ID: ..." and the indented lines after it).
 * @returns how many lines were printed. */
static int print_campaign_lines(const char *doc, const char *id, int plans)
{
	char head[BD_ID_MAX + 16];
	size_t n = strlen(id) < 24 || plans ? strlen(id) : 24;
	int shown = 0, in_block = 0;
	snprintf(head, sizeof(head), "%s%s%s", plans ? "campaign " : "", id, plans ? ":" : "");
	if (!plans)
		head[n] = '\0';
	for (const char *l = doc; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
		size_t len = strcspn(l, "\n");
		int hit = strncmp(l, head, strlen(head)) == 0 &&
			  (plans || n == 24 || l[n] == ' ');
		if (plans && strncmp(l, "campaign ", 9) == 0)
			in_block = hit;
		if (hit || (in_block && l[0] == ' ') || (!plans && strncmp(l, "CAMPAIGN ", 9) == 0)) {
			printf("%.*s\n", (int)len, l);
			shown += hit;
		}
	}
	return shown;
}

/* show campaign ID: its row, its plan and its commands; with --json one
 * object {"campaign":..., "plan":..., "commands":[...]}.  @returns the exit
 * status. */
static int show_campaign(const ctl_t *o, const char *id)
{
	char errstr[1024], *doc[2] = {NULL, NULL};
	const char *paths[2][2] = {{"/text/campaigns", "/text/plans"},
				   {"/api/campaigns", "/api/plans"}};
	int rc = 1;
	for (int i = 0; i < 2; i++) {
		int st = http_get(o->admin, paths[o->json][i], &doc[i], errstr, sizeof(errstr));
		if (st != 200) {
			fprintf(stderr, "budgetctl: %s\n", st < 0 ? errstr : "cannot read the campaigns");
			goto out;
		}
	}
	if (o->json) {
		printf("{\"campaign\":");
		if (print_object(doc[0], "id", id)) {
			printf("null}\n");
			fprintf(stderr, "budgetctl: no campaign %s\n", id);
			goto out;
		}
		printf(",\"plan\":");
		if (print_object(doc[1], "campaign", id))
			printf("null");
		printf(",\"commands\":");
		rc = show_commands(o->admin, id, 2);
		printf("}\n");
		goto out;
	}
	if (!print_campaign_lines(doc[0], id, 0)) {
		fprintf(stderr, "budgetctl: no campaign %s\n", id);
		goto out;
	}
	printf("\n");
	if (!print_campaign_lines(doc[1], id, 1))
		printf("no plan yet\n");
	printf("\ncommands read since the daemon started:\n");
	rc = show_commands(o->admin, id, 0);
out:
	free(doc[0]);
	free(doc[1]);
	return rc;
}

/* show WHAT: the admin endpoint's table (or JSON) on stdout.  @returns the
 * exit status. */
static int cmd_show(const ctl_t *o, char **args, int nargs)
{
	static const char *const what[] = {"campaigns", "plans", "clusters", "models",
					   "config", "health", "experiment", "instance"};
	char path[64], errstr[1024], *body;
	size_t i;
	if (nargs >= 1 && nargs <= 2 && strcmp(args[0], "commands") == 0)
		return show_commands(o->admin, nargs == 2 ? args[1] : NULL, o->json);
	if (nargs == 2 && strcmp(args[0], "campaign") == 0)
		return show_campaign(o, args[1]);
	for (i = 0; nargs == 1 && i < sizeof(what) / sizeof(what[0]); i++)
		if (strcmp(args[0], what[i]) == 0)
			break;
	if (nargs != 1 || i == sizeof(what) / sizeof(what[0])) {
		fprintf(stderr, "budgetctl: show what? (campaigns, plans, clusters, models, "
				"config, health, experiment, instance, commands [CAMPAIGN], "
				"campaign CAMPAIGN)\n");
		return EX_USAGE;
	}
	snprintf(path, sizeof(path), "/%s/%s", o->json ? "api" : "text", what[i]);
	int st = http_get(o->admin, path, &body, errstr, sizeof(errstr));
	int rc = 1;
	if (st < 0)
		fprintf(stderr, "budgetctl: %s\n", errstr);
	else if (st != 200)
		fprintf(stderr, "budgetctl: %s%s: HTTP %d: %s", o->admin, path, st, body);
	else {
		fputs(body, stdout);
		rc = 0;
	}
	free(body);
	return rc;
}

/* The change commands: their control action and how many arguments they take. */
static const struct change {
	const char *name;
	bd_action_t action;
	int min_args, max_args;
} changes[] = {
	{"set-budget", BD_ACTION_SET_BUDGET, 2, 2},
	/* of an existing campaign: bounds only */
	{"set-bounds", BD_ACTION_UPSERT_CAMPAIGN, 2, INT_MAX},
	{"pause", BD_ACTION_PAUSE, 1, 1},
	{"resume", BD_ACTION_RESUME, 1, 1},
	{"solve", BD_ACTION_RESOLVE, 0, 1},
	{"retrain", BD_ACTION_RETRAIN, 0, 1},
	{"create", BD_ACTION_UPSERT_CAMPAIGN, 2, INT_MAX},
	{"update", BD_ACTION_UPSERT_CAMPAIGN, 2, INT_MAX},
};

/* The change command @p cmd with its arguments: its action, set-budget's
 * amount, the settings of create, update and set-bounds (into @p up, their
 * names into @p sb).  @returns 0, or -1 after saying why. */
static int parse_change(const char *cmd, char **args, int nargs, bd_action_t *action,
			double *amount, bd_control_command_t *up, settings_buf_t *sb)
{
	size_t i;
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (!strcmp(cmd, changes[i].name) && nargs >= changes[i].min_args &&
		    nargs <= changes[i].max_args)
			break;
	if (i == sizeof(changes) / sizeof(changes[0])) {
		fprintf(stderr, "budgetctl: unknown command or wrong arguments: %s\n", cmd);
		usage(stderr);
		return -1;
	}
	*action = changes[i].action;
	if (*action == BD_ACTION_SET_BUDGET) {
		char *end;
		*amount = strtod(args[1], &end);
		if (*end || !(*amount >= 0) || *amount > 1e15) {
			fprintf(stderr, "budgetctl: set-budget: '%s' is not an amount >= 0\n",
				args[1]);
			return -1;
		}
	}
	for (int k = 1; *action == BD_ACTION_UPSERT_CAMPAIGN && k < nargs; k++)
		if (strcmp(cmd, "set-bounds") == 0 ? parse_bound(cmd, args[k], up)
						   : parse_setting(cmd, args[k], up, sb))
			return -1;
	if (strcmp(cmd, "create") == 0 && !up->has_treatments) {
		fprintf(stderr, "budgetctl: create: a campaign needs its treatments: "
				"treatment=0:control:0 treatment=1:NAME:COST ...\n");
		return -1;
	}
	return 0;
}

/* The campaigns a change is for: @p arg1, or every campaign the daemon has.
 * @returns how many, or -1 after saying why. */
static int target_campaigns(const ctl_t *o, const char *arg1, bd_action_t action,
			    char ids[][BD_ID_MAX], int max)
{
	int n;
	if (arg1) {
		snprintf(ids[0], sizeof(ids[0]), "%s", arg1);
		n = 1;
	} else if ((n = campaign_ids(o->admin, ids, max)) <= 0) {
		if (n == 0)
			fprintf(stderr, "budgetctl: the daemon has no campaigns\n");
		return -1;
	}
	if (action == BD_ACTION_RETRAIN)
		n = 1; /* one model for all campaigns */
	return n;
}

/* One command of @p action per campaign of @p ids into @p cmds, their ids in @p cid. */
static void build_commands(bd_action_t action, double amount, bd_control_command_t up,
			   char ids[][BD_ID_MAX], int n, bd_control_command_t *cmds,
			   char cid[][96])
{
	for (int i = 0; i < n; i++) {
		/* unique: a command id seen before is ignored by the daemon */
		snprintf(cid[i], sizeof(cid[i]), "budgetctl-%s-%lld-%d-%d", bd_action_name(action),
			 (long long)now_ms(), (int)getpid(), i);
		cmds[i] = (bd_control_command_t){.command_id = cid[i], .campaign_id = ids[i],
						 .ts_ms = now_ms(), .action = action};
		if (action == BD_ACTION_SET_BUDGET) {
			cmds[i].has_budget = true;
			cmds[i].daily_budget = amount;
		}
		if (action == BD_ACTION_UPSERT_CAMPAIGN) {
			up.command_id = cmds[i].command_id;
			up.campaign_id = cmds[i].campaign_id;
			up.ts_ms = cmds[i].ts_ms;
			up.action = action;
			cmds[i] = up;
		}
	}
}

/* The brokers to send to: --bootstrap, bootstrap.servers, else the daemon's
 * own (an embedded broker has no setting).  @returns them, or NULL after
 * saying why. */
static const char *find_bootstrap(const ctl_t *o, char *boot_buf, size_t size)
{
	char errstr[1024], *body;
	if (o->bootstrap)
		return o->bootstrap;
	if (o->cfg.bootstrap_servers[0])
		return o->cfg.bootstrap_servers;
	const char *bootstrap = NULL;
	int st = http_get(o->admin, "/api/status", &body, errstr, sizeof(errstr));
	if (st == 200 && json_field(body, "bootstrap", boot_buf, size) == 0 && boot_buf[0])
		bootstrap = boot_buf;
	free(body);
	if (!bootstrap)
		fprintf(stderr, "budgetctl: no brokers: give --bootstrap, -c with "
				"bootstrap.servers, or a reachable --admin (%s)\n",
			st < 0 ? errstr : "it did not say");
	return bootstrap;
}

/* Before a change that waits: the admin endpoint answers (else nothing is
 * sent: its outcome could not be known), and create / update find the
 * campaign absent / present.  @returns 0 to go on, else the exit status
 * (said why). */
static int check_before(const ctl_t *o, const char *cmd, const char *campaign)
{
	int create = strcmp(cmd, "create") == 0, update = strcmp(cmd, "update") == 0;
	if (o->no_wait && !create && !update)
		return 0;
	int ex = campaign_exists(o->admin, campaign ? campaign : "");
	if (ex < 0) {
		if (o->no_wait)
			return 0;
		fprintf(stderr, "budgetctl: nothing sent: its outcome could not be confirmed "
				"(--no-wait sends without confirmation)\n");
		return 2;
	}
	if (create && ex) {
		fprintf(stderr, "budgetctl: campaign %s exists (update changes it)\n", campaign);
		return 1;
	}
	if (update && !ex) {
		fprintf(stderr, "budgetctl: no campaign %s (create makes one)\n", campaign);
		return 1;
	}
	return 0;
}

/* A change: onto the control topic, then its outcome awaited (unless
 * --no-wait).  @returns the exit status. */
static int cmd_change(const ctl_t *o, const char *cmd, char **args, int nargs)
{
	bd_control_command_t cmds[64], up = {0};
	char ids[64][BD_ID_MAX], cid[64][96], boot_buf[1024];
	settings_buf_t sb = {0};
	bd_action_t action;
	double amount = 0;
	int rc;

	if (parse_change(cmd, args, nargs, &action, &amount, &up, &sb))
		return EX_USAGE;
	if ((rc = check_before(o, cmd, nargs >= 1 ? args[0] : NULL)))
		return rc;
	int n = target_campaigns(o, nargs >= 1 ? args[0] : NULL, action, ids, 64);
	if (n < 0)
		return 1;
	build_commands(action, amount, up, ids, n, cmds, cid);
	const char *bootstrap = find_bootstrap(o, boot_buf, sizeof(boot_buf));
	if (!bootstrap)
		return 2;
	if ((rc = send_commands(&o->cfg, bootstrap, cmds, n, !o->no_wait)) || o->no_wait)
		return rc;
	double timeout = o->timeout_s > 0 ? o->timeout_s : action == BD_ACTION_RETRAIN ? 600 : 30;
	return wait_outcomes(o->admin, cmds, n, timeout);
}

int main(int argc, char **argv)
{
	ctl_t o = {.admin = "127.0.0.1:9877", .timeout_s = -1};
	int rc = EX_USAGE;

	bd_log_set_ident("budgetctl"); /* librdkafka's lines (bd_kafka_log_cb) */

	if (bd_config_init(&o.cfg) != 0) {
		fprintf(stderr, "budgetctl: out of memory\n");
		return 1;
	}
	char **sets = calloc((size_t)argc + 1, sizeof(char *));
	int nsets = 0, p = sets ? parse_options(argc, argv, &o, sets, &nsets) : 0;
	if (p) {
		rc = p > 0 ? 0 : EX_USAGE;
		goto out;
	}
	if (apply_settings(&o, sets, nsets))
		goto out;
	if (optind >= argc) {
		usage(stderr);
		goto out;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;
	rc = strcmp(cmd, "show") == 0 ? cmd_show(&o, args, nargs)
				      : cmd_change(&o, cmd, args, nargs);
out:
	free(sets);
	bd_config_free(&o.cfg);
	return rc;
}
