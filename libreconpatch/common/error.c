/* Thread-local last error: one code and one message per thread, never global, never per handle. */
#include <stdio.h>
#include <string.h>

#include "common.h"

#define RP_ERROR_MESSAGE_MAX 1024

static _Thread_local int last_code = RP_OK;
static _Thread_local char last_message[RP_ERROR_MESSAGE_MAX];

int rp__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_code = code;
    rp__log(RP_LOG_DEBUG, "%s (%s)", last_message, rp_error_name(code));
    return code;
}

int rp__fail_relay(int code, const char *fmt, ...)
{
    char inner[RP_ERROR_MESSAGE_MAX];
    memcpy(inner, last_message, sizeof inner);
    char outer[RP_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(outer, sizeof outer, fmt, ap);
    va_end(ap);
    return rp__fail(code, "%s: %s", outer, inner);
}

void rp__clear_error(void)
{
    last_code = RP_OK;
    last_message[0] = '\0';
}

int rp_last_error_code(void) { return last_code; }

const char *rp_last_error_message(void) { return last_message; }

const char *rp_error_name(int code)
{
    switch (code) {
    case RP_OK: return "RP_OK";
    case RP_E_INVALID_ARG: return "RP_E_INVALID_ARG";
    case RP_E_NOMEM: return "RP_E_NOMEM";
    case RP_E_IO: return "RP_E_IO";
    case RP_E_FORMAT: return "RP_E_FORMAT";
    case RP_E_VERSION: return "RP_E_VERSION";
    case RP_E_UNSUPPORTED: return "RP_E_UNSUPPORTED";
    case RP_E_LIMIT: return "RP_E_LIMIT";
    case RP_E_STATE: return "RP_E_STATE";
    case RP_E_CANCELLED: return "RP_E_CANCELLED";
    case RP_E_BACKEND: return "RP_E_BACKEND";
    case RP_E_SHAPE: return "RP_E_SHAPE";
    case RP_E_INTERNAL: return "RP_E_INTERNAL";
    case RP_E_DIVERGED: return "RP_E_DIVERGED";
    default: return "RP_E_UNKNOWN";
    }
}
