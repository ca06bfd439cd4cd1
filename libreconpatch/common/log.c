/* Logging: silent by default; a user callback or RP_LOG=error|warn|info|debug turns it on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static rp_log_fn user_fn;
static void *user_data;
static int max_level = -1; /* -1: not yet read from the environment */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env_level(void)
{
    const char *v = getenv("RP_LOG");
    int level = 0;
    if (v) {
        if (!strcmp(v, "error")) level = RP_LOG_ERROR;
        else if (!strcmp(v, "warn")) level = RP_LOG_WARN;
        else if (!strcmp(v, "info")) level = RP_LOG_INFO;
        else if (!strcmp(v, "debug")) level = RP_LOG_DEBUG;
    }
    if (max_level < 0) max_level = level;
}

void rp_set_log_callback(rp_log_fn fn, int32_t level, void *data)
{
    pthread_once(&env_once, read_env_level);
    user_fn = fn;
    user_data = data;
    if (fn) {
        max_level = level;
    } else {
        max_level = -1;
        const char *v = getenv("RP_LOG");
        max_level = 0;
        if (v) { /* re-read so that NULL restores the environment's choice */
            if (!strcmp(v, "error")) max_level = RP_LOG_ERROR;
            else if (!strcmp(v, "warn")) max_level = RP_LOG_WARN;
            else if (!strcmp(v, "info")) max_level = RP_LOG_INFO;
            else if (!strcmp(v, "debug")) max_level = RP_LOG_DEBUG;
        }
    }
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
