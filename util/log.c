/* log.c — levelled logging to a caller-supplied sink (stderr by default), progress
 * bars that draw only on a terminal, and the two clocks the engine uses. */
#include "cx_util.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void cx_log(const cx_logger *lg, cx_log_level level, const char *fmt, ...)
{
    if (!lg || level > lg->level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lg->fn) {
        lg->fn(lg->ud, level, msg);
        return;
    }
    fprintf(stderr, "cloakx: %s: %s\n", level_names[level], msg);
}

double cx_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t cx_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cx_progress_start(cx_progress *p, const char *label, uint64_t total, int allow)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->enabled = allow && isatty(STDERR_FILENO);
    p->t_start = p->t_last = cx_now_seconds();
}

static void progress_draw(const cx_progress *p)
{
    const int width = 30;
    double frac = p->total ? (double)p->done / (double)p->total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    int fill = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-20s [%s] %5.1f%%", p->label, bar, frac * 100.0);
    fflush(stderr);
}

void cx_progress_update(cx_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->enabled)
        return;
    double now = cx_now_seconds();
    if (now - p->t_last < 0.1 && done < p->total)
        return;
    p->t_last = now;
    progress_draw(p);
}

void cx_progress_finish(cx_progress *p)
{
    if (!p->enabled)
        return;
    p->done = p->total;
    progress_draw(p);
    fputc('\n', stderr);
}
