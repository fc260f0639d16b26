/* stages/runtime/error.c — names and messages of the nlpd error space. */
#include <string.h>

#include "nlpd/error.h"

const char *
nlpd_strerror(int err)
{
    switch (err) {
#define XX(name, val, msg)                                                                         \
    case (val):                                                                                    \
        return (msg);
        NLPD_ERR_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err == 0)
        return "success";
    if (err < 0 && err > -4000)
        return strerror(-err); /* glibc: static strings for valid codes */
    return "unknown error";
}

const char *
nlpd_err_name(int err)
{
    switch (err) {
#define XX(name, val, msg)                                                                         \
    case (val):                                                                                    \
        return "NLPD_" #name;
        NLPD_ERR_MAP(XX)
#undef XX
    default:
        break;
    }
    return err == 0 ? "NLPD_OK" : "NLPD_EUNKNOWN";
}
