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
 *   budgetctl [--admin HOST:PORT] [--bootstrap SERVERS] [-c FILE] [-X K=V]
 *             [--json] COMMAND
 */
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

#include <librdkafka/rdkafka.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/config.h"
#include "budgetd/serve/kafka.h"
#include "budgetd/wire/messages.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: budgetctl [options] COMMAND\n"
		"commands:\n"
		"  show campaigns|plans|clusters|models|config|health\n"
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
		"  -h, --help\n"
		"exit status: 0 done, 1 failed, 2 usage\n");
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

/* The value of "key":"..." in a flat JSON document (our own /api/status). */
static int json_field(const char *doc, const char *key, char *out, size_t size)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(doc, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	if (n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* ---- control commands ---------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	*(rd_kafka_resp_err_t *)opaque = m->err;
}

/* Produces the commands and waits for the broker to have them all. */
static int send_commands(const bd_config_t *cfg, const char *bootstrap,
			 const bd_control_command_t *cmds, int n)
{
	char errstr[512];
	bd_codec_t *codec = NULL;
	bd_buf_t b = {0};
	rd_kafka_t *rk = NULL;
	rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
	int rc = 1;
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
	if (bd_codec_new((const uint32_t *)cfg->schema_id, bd_config_output_format(cfg), &codec,
			 errstr, sizeof(errstr)))
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
	for (int i = 0; i < n; i++)
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
static int parse_bound(const char *arg, bd_control_command_t *cmd)
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
			fprintf(stderr, "budgetctl: set-bounds: %s must be %s 0 and at most %g, not "
					"'%s'\n", keys[i], i == 1 ? ">=" : ">", BD_OUTCOME_BOUND_MAX,
				eq + 1);
			return -1;
		}
		*has[i] = true;
		*val[i] = x;
		return 0;
	}
	fprintf(stderr, "budgetctl: set-bounds: '%s' is not max_value=, max_cost= or "
			"winsor_value=\n", arg);
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

/* ---- the command line --------------------------------------------------------- */

/* What the options say: where the daemon is, how to print, the settings. */
typedef struct {
	const char *admin, *bootstrap, *file;
	int json;
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
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:X:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o->admin = optarg; break;
		case 'b': o->bootstrap = optarg; break;
		case 'c': o->file = optarg; break;
		case 'X': sets[(*nsets)++] = optarg; break;
		case 'j': o->json = 1; break;
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

/* show WHAT: the admin endpoint's table (or JSON) on stdout.  @returns the
 * exit status. */
static int cmd_show(const ctl_t *o, char **args, int nargs)
{
	static const char *const what[] = {"campaigns", "plans", "clusters",
					   "models", "config", "health"};
	char path[64], errstr[1024], *body;
	size_t i;
	for (i = 0; nargs == 1 && i < sizeof(what) / sizeof(what[0]); i++)
		if (strcmp(args[0], what[i]) == 0)
			break;
	if (nargs != 1 || i == sizeof(what) / sizeof(what[0])) {
		fprintf(stderr, "budgetctl: show what? (campaigns, plans, clusters, models, "
				"config, health)\n");
		return 2;
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
};

/* The change command @p cmd with its arguments: its action, set-budget's
 * amount, set-bounds' bounds.  @returns 0, or -1 after saying why. */
static int parse_change(const char *cmd, char **args, int nargs, bd_action_t *action,
			double *amount, bd_control_command_t *bounds)
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
		if (parse_bound(args[k], bounds))
			return -1;
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
static void build_commands(bd_action_t action, double amount, bd_control_command_t bounds,
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
			bounds.command_id = cmds[i].command_id;
			bounds.campaign_id = cmds[i].campaign_id;
			bounds.ts_ms = cmds[i].ts_ms;
			bounds.action = action;
			cmds[i] = bounds;
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

/* A change: onto the control topic.  @returns the exit status. */
static int cmd_change(const ctl_t *o, const char *cmd, char **args, int nargs)
{
	bd_control_command_t cmds[64], bounds = {0};
	char ids[64][BD_ID_MAX], cid[64][96], boot_buf[1024];
	bd_action_t action;
	double amount = 0;

	if (parse_change(cmd, args, nargs, &action, &amount, &bounds))
		return 2;
	int n = target_campaigns(o, nargs >= 1 ? args[0] : NULL, action, ids, 64);
	if (n < 0)
		return 1;
	build_commands(action, amount, bounds, ids, n, cmds, cid);
	const char *bootstrap = find_bootstrap(o, boot_buf, sizeof(boot_buf));
	if (!bootstrap)
		return 1;
	return send_commands(&o->cfg, bootstrap, cmds, n);
}

int main(int argc, char **argv)
{
	ctl_t o = {.admin = "127.0.0.1:9877"};
	int rc = 2;

	if (bd_config_init(&o.cfg) != 0) {
		fprintf(stderr, "budgetctl: out of memory\n");
		return 1;
	}
	char **sets = calloc((size_t)argc + 1, sizeof(char *));
	int nsets = 0, p = sets ? parse_options(argc, argv, &o, sets, &nsets) : 0;
	if (p) {
		rc = p > 0 ? 0 : 2;
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
