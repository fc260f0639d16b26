/* include/nlpd/export.h — symbol visibility for the public API.
 *
 * Everything is built with -fvisibility=hidden; NLPD_EXPORT marks the
 * declarations that form the SDK's ABI (libnlpd.so).
 */
#ifndef NLPD_EXPORT_H
#define NLPD_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define NLPD_EXPORT __attribute__((visibility("default")))
#define NLPD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NLPD_EXPORT
#define NLPD_PRINTF(fmt, args)
#endif

#endif /* NLPD_EXPORT_H */
