/*
 * The config-file parser.  bd_config_load_file takes a path only, so the
 * input goes into a memfd read back through /proc/self/fd (no disk I/O);
 * a file that loads is also validated and dumped, as --check-config does.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budgetd/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	bd_config_t cfg;
	char path[64], errstr[1024];
	int fd;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if ((fd = memfd_create("fuzz_config", 0)) < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (bd_config_init(&cfg) != 0)
		abort();
	if (bd_config_load_file(&cfg, path, errstr, sizeof(errstr)) == 0 &&
	    bd_config_validate(&cfg, errstr, sizeof(errstr)) == 0)
		bd_config_dump(&cfg, devnull, true);
	bd_config_free(&cfg);
	close(fd);
	return 0;
}
