/* daemon/sdnotify.c — systemd notifications (Redis' redisCommunicateSystemd).
 *
 * Built with libsystemd when NLPD_WITH_SYSTEMD is on; otherwise every call
 * is a no-op returning 0, and nlpd runs the same without systemd. */
#include <stdint.h>
#include <stdlib.h>

#include "daemon.h"

#ifdef NLPD_WITH_SYSTEMD
#include <systemd/sd-daemon.h>

int
nlpd_sd_notify(const char *state)
{
    if (getenv("NOTIFY_SOCKET") == NULL)
        return 0;
    return sd_notify(0, state);
}

uint64_t
nlpd_sd_watchdog_usec(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        return usec;
    return 0;
}

#else

int
nlpd_sd_notify(const char *state)
{
    (void)state;
    return 0;
}

uint64_t
nlpd_sd_watchdog_usec(void)
{
    return 0;
}

#endif
