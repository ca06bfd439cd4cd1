/* Logging: silent by default; a user callback or RP_LOG=error|warn|info|debug turns it on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static rp_log_fn user_fn;
static void *user_data;
static int max_level; /* messages up to this level are emitted; 0 = none */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* The level RP_LOG asks for (0 when unset or unknown). */
static int env_level(void)
{
    const char *v = getenv("RP_LOG");
    if (!v) return 0;
    if (!strcmp(v, "error")) return RP_LOG_ERROR;
    if (!strcmp(v, "warn")) return RP_LOG_WARN;
    if (!strcmp(v, "info")) return RP_LOG_INFO;
    if (!strcmp(v, "debug")) return RP_LOG_DEBUG;
    return 0;
}

static void read_env_level(void)
{
    if (!user_fn) max_level = env_level();
}

void rp_set_log_callback(rp_log_fn fn, int32_t level, void *data)
{
    pthread_once(&env_once, read_env_level);
    user_fn = fn;
    user_data = data;
    max_level = fn ? level : env_level(); /* NULL restores the environment's choice */
}

int rp__log_enabled(int level)
{
    pthread_once(&env_once, read_env_level);
    return level <= max_level;
}

void rp__log(int level, const char *fmt, ...)
{
    if (!rp__log_enabled(level)) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (user_fn) {
        user_fn(level, buf, user_data);
    } else {
        static const char *names[] = {"", "error", "warn", "info", "debug"};
        fprintf(stderr, "reconpatch %s: %s\n", names[level >= 1 && level <= 4 ? level : 0], buf);
    }
}
