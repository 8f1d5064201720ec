/*
 * ThreadSanitizer builds only (configure --enable-tsan): C11 threads on top
 * of pthreads.
 *
 * librdkafka (Debian's, not instrumented) creates its threads and takes
 * its locks with glibc's C11 <threads.h>, which calls glibc's pthread
 * internals directly; TSan intercepts neither (gcc 12 nor clang 14).  A
 * thread TSan has not seen crashes in its first malloc, and locks it does
 * not see make every hand-over through librdkafka look like a race.  The
 * program's own definitions below take precedence over glibc's for
 * librdkafka, and call the pthread functions TSan does intercept.
 * configure links them in with -Wl,--undefined=thrd_create.
 */
#include "config.h"

#ifdef BD_TSAN_C11_SHIM
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int bd__thrd_err(int err)
{
	return err == 0 ? thrd_success : err == ENOMEM ? thrd_nomem :
	       err == ETIMEDOUT ? thrd_timedout : err == EBUSY ? thrd_busy :
	       thrd_error;
}

typedef struct bd__thrd_start_s {
	thrd_start_t fn;
	void *arg;
} bd__thrd_start_t;

static void *bd__thrd_trampoline(void *p)
{
	bd__thrd_start_t s = *(bd__thrd_start_t *)p;
	free(p);
	/* what glibc's thrd_join expects back: the int in a pointer */
	return (void *)(intptr_t)s.fn(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	bd__thrd_start_t *s = malloc(sizeof(*s));
	int err;

	if (!s)
		return thrd_nomem;
	s->fn = fn;
	s->arg = arg;
	if ((err = pthread_create(thr, NULL, bd__thrd_trampoline, s)))
		free(s);
	return bd__thrd_err(err);
}

int thrd_join(thrd_t thr, int *res)
{
	void *r = NULL;
	int err = pthread_join(thr, &r);
	if (!err && res)
		*res = (int)(intptr_t)r;
	return bd__thrd_err(err);
}

int thrd_detach(thrd_t thr)
{
	return bd__thrd_err(pthread_detach(thr));
}

int mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	int err;

	pthread_mutexattr_init(&a);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	err = pthread_mutex_init((pthread_mutex_t *)m, &a);
	pthread_mutexattr_destroy(&a);
	return bd__thrd_err(err);
}

int mtx_lock(mtx_t *m)
{
	return bd__thrd_err(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m)
{
	return bd__thrd_err(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
	return bd__thrd_err(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

int mtx_unlock(mtx_t *m)
{
	return bd__thrd_err(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c)
{
	return bd__thrd_err(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c)
{
	return bd__thrd_err(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c)
{
	return bd__thrd_err(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
	return bd__thrd_err(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
	return bd__thrd_err(pthread_cond_timedwait((pthread_cond_t *)c,
						   (pthread_mutex_t *)m, ts));
}

void cnd_destroy(cnd_t *c)
{
	pthread_cond_destroy((pthread_cond_t *)c);
}

void call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}
#else
/* an empty translation unit is not ISO C */
typedef int bd__tsan_c11_unused;
#endif
