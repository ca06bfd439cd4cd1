/* Area under a curve up to an x limit, the way the MVTec AD evaluation integrates the PRO curve. */
#include "metrics/metrics_internal.h"

void rp__metrics_trapezoid_start(rp__metrics_trapezoid *t, double x_limit, double x0, double y0)
{
    t->x_limit = x_limit;
    t->last_x = x0;
    t->last_y = y0;
    t->area = 0.0;
    t->done = x0 >= x_limit;
}

void rp__metrics_trapezoid_add(rp__metrics_trapezoid *t, double x, double y)
{
    if (t->done) return;
    if (x <= t->x_limit) {
        t->area += 0.5 * (y + t->last_y) * (x - t->last_x);
        t->last_x = x;
        t->last_y = y;
        return; /* later points at exactly x_limit add vertical, zero-area segments */
    }
    /* This segment crosses x_limit (last_x < x_limit < x): interpolate y there. */
    const double y_limit = t->last_y + (y - t->last_y) * (t->x_limit - t->last_x) / (x - t->last_x);
    t->area += 0.5 * (y_limit + t->last_y) * (t->x_limit - t->last_x);
    t->done = 1;
}
