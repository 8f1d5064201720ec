/*
 * budgetd: command line, configuration, then the daemon (daemon.c) or the
 * embedded broker alone.
 */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/serve/broker.h"
#include "budgetd/base/config.h"
#include "budgetd/daemon/clog_apply.h"
#include "budgetd/daemon/daemon.h"
#include "budgetd/daemon/dump.h"
#include "budgetd/base/log.h"
#include "budgetd/state/store.h"

#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: budgetd [options]\n"
		"  -c, --config FILE       read settings from FILE (key = value lines)\n"
		"  -X, --set KEY=VALUE     set one setting (after the file; repeatable);\n"
		"                          kafka.* settings go to librdkafka\n"
		"      --broker-only       run only the embedded Kafka broker\n"
		"      --broker-file FILE  with --broker-only: write the bootstrap address to FILE\n"
		"      --broker-faults     with --broker-only: read fault commands on standard\n"
		"                          input (down B, up B, rtt B MS, leader T P B, errors\n"
		"                          REQUEST N ERROR); for fault tests and demos\n"
		"      --show-config       print every setting with its doc and exit\n"
		"      --dump WHAT         print the state in state.dir (stats, offsets,\n"
		"                          campaigns, samples, outbox, decisions) and exit; stop the\n"
		"                          daemon first\n"
		"      --apply-changelog DIR  build a new store in DIR from topic.changelog alone\n"
		"                          (bootstrap.servers: a running broker) and exit\n"
		"      --checkpoint DIR    back up the state in state.dir to DIR/checkpoint-<UTC time>\n"
		"                          (a consistent copy a daemon can start on) and exit;\n"
		"                          stop the daemon first (a running one: checkpoint.dir)\n"
		"      --check-config      validate the configuration and exit\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n");
}

/* budgetd --checkpoint DIR: an offline backup of a stopped daemon's state */
static int offline_checkpoint(const bd_config_t *cfg, const char *dir)
{
	char current[4096], path[4200], errstr[1024];
	struct stat sb;
	bd_store_t *st;

	/* opening would create an empty database where there is none */
	snprintf(current, sizeof(current), "%s/CURRENT", cfg->state_dir);
	if (stat(current, &sb) != 0) {
		fprintf(stderr, "budgetd: --checkpoint: no state in %s (no CURRENT file)\n",
			cfg->state_dir);
		return 1;
	}
	if (bd_store_open(cfg->state_dir, &st, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "budgetd: --checkpoint: %s\n", errstr);
		return 1;
	}
	int err = bd_store_checkpoint_rotate(st, dir, 0, path, sizeof(path), errstr,
					     sizeof(errstr));
	bd_store_close(st);
	if (err) {
		fprintf(stderr, "budgetd: --checkpoint: %s\n", errstr);
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 'X'},
		{"broker-only", no_argument, NULL, 'B'},
		{"broker-file", required_argument, NULL, 'F'},
		{"broker-faults", no_argument, NULL, 'f'},
		{"show-config", no_argument, NULL, 'S'},
		{"check-config", no_argument, NULL, 'C'},
		{"dump", required_argument, NULL, 'D'},
		{"checkpoint", required_argument, NULL, 'K'},
		{"apply-changelog", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	bd_config_t cfg;
	char errstr[1024];
	const char *file = NULL, *broker_file = NULL, *dump = NULL, *checkpoint = NULL,
		   *apply_dir = NULL;
	char **sets = calloc((size_t)argc + 1, sizeof(char *));
	int nsets = 0, broker_only = 0, faults = 0, show = 0, check = 0, c, rc = 2;

	if (!sets || bd_config_init(&cfg) != 0) {
		fprintf(stderr, "budgetd: out of memory\n");
		return 1;
	}
	while ((c = getopt_long(argc, argv, "c:X:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'X': sets[nsets++] = optarg; break;
		case 'B': broker_only = 1; break;
		case 'F': broker_file = optarg; break;
		case 'f': faults = 1; break;
		case 'S': show = 1; break;
		case 'C': check = 1; break;
		case 'D': dump = optarg; break;
		case 'K': checkpoint = optarg; break;
		case 'A': apply_dir = optarg; break;
		case 'h': usage(stdout); rc = 0; goto out;
		case 'V': printf("budgetd %s\n", PACKAGE_VERSION); rc = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "budgetd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	bd_config_source_t src = {file, sets, nsets};
	/* built from the sources, the way a SIGHUP builds it again */
	bd_config_free(&cfg);
	if (bd_config_build(&cfg, &src, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "budgetd: %s\n", errstr);
		goto out; /* bd_config_free of a freed config is harmless */
	}
	bd_log_level = bd_log_level_parse(cfg.log_level);
	bd_log_format = bd_log_format_parse(cfg.log_format);
	if (show) {
		bd_config_dump(&cfg, stdout, true);
		rc = 0;
		goto out;
	}
	if (check) {
		printf("configuration OK\n");
		rc = 0;
		goto out;
	}
	if (dump) {
		rc = bd_dump(cfg.state_dir, dump, stdout, errstr, sizeof(errstr)) ? 1 : 0;
		if (rc)
			fprintf(stderr, "budgetd: %s\n", errstr);
		goto out;
	}
	if (checkpoint) {
		rc = offline_checkpoint(&cfg, checkpoint);
		goto out;
	}
	if (apply_dir) {
		rc = bd_clog_apply_run(&cfg, apply_dir, stdout, errstr, sizeof(errstr)) ? 1 : 0;
		if (rc)
			fprintf(stderr, "budgetd: --apply-changelog: %s\n", errstr);
		goto out;
	}
	rc = broker_only ? bd_broker_run(&cfg, broker_file, faults)
			 : bd_daemon_run(&cfg, &src);
out:
	bd_config_free(&cfg);
	free(sets);
	return rc;
}
