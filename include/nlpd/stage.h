/* include/nlpd/stage.h — the stage SDK: a custom stage is one callback.
 *
 *     static int
 *     process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
 *     {
 *         size_t len;
 *         const char *text = nlpd_doc_text(doc, &len);
 *         ... nlpd_doc_add_annotation(doc, "my-kind", &span, "value", 1.0); ...
 *         return 0;
 *     }
 *
 *     int
 *     main(int argc, char **argv)
 *     {
 *         static const nlpd_stage_def def = {
 *             .abi = NLPD_STAGE_ABI, .name = "mystage", .version = "1.0",
 *             .process = process,
 *         };
 *         return nlpd_stage_main(&def, argc, argv);
 *     }
 *
 * nlpd_stage_main() owns everything else: the libuv loop, the ZeroMQ socket
 * to the daemon (the endpoint comes from the daemon through the environment,
 * or --endpoint for a worker started by hand on another host), the
 * "started" report when a document is taken, heartbeats from a thread off
 * the processing path, SIGTERM/SIGINT (the document in hand is finished, the
 * rest handed back, then the worker exits 0), per-document errors (the
 * document goes on with an error record; the worker does not die), and the
 * trace entry (stage, version, time spent). Link with `pkg-config --libs
 * nlpd`. The wire protocol it speaks is in docs/protocol.md, for stages in
 * other languages.
 */
#ifndef NLPD_STAGE_H
#define NLPD_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/export.h"
#include "nlpd/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of nlpd_stage_def this header describes. */
#define NLPD_STAGE_ABI 1

typedef struct nlpd_stage_ctx nlpd_stage_ctx;

typedef struct nlpd_stage_def {
    uint32_t abi;        /* NLPD_STAGE_ABI */
    const char *name;    /* the stage's name (the daemon's config may rename it) */
    /* Reported in traces and status. Read after init() returns, so init()
     * may write into the buffer it points at (say, the model it loaded);
     * the runtime keeps its first 63 bytes. */
    const char *version;

    /* Optional. Called once before the worker tells the daemon it is ready
     * (load models here). argc/argv hold the arguments the runtime did not
     * take. Returns 0, or a negative nlpd_err: the worker then exits 1 and
     * the daemon reports the failure. *state is passed to process. */
    int (*init)(void **state, int argc, char **argv);

    /* Required. Called for each document, one at a time, on the loop
     * thread. Reads with nlpd_doc_*() and appends with nlpd_doc_add_*().
     * Returns 0, or a negative nlpd_err (or calls nlpd_stage_fail first for
     * a precise code and message): the document then goes on with an error
     * record and none of this call's additions. */
    int (*process)(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx);

    /* Optional. Called once at exit with the state init made. */
    void (*fini)(void *state);

    /* Optional. Documents that an earlier stage marked as fatally broken
     * skip process() unless this is 1. */
    int wants_failed_documents;
} nlpd_stage_def;

/* Runs the stage until SIGTERM/SIGINT or the daemon's STOP. Returns the
 * process exit status (0 after a clean stop, 1 after a failure that was
 * logged). Blocks; call it from main(). */
NLPD_EXPORT int nlpd_stage_main(const nlpd_stage_def *def, int argc, char **argv);

/* Within process(): records why this document failed. `code` is a short
 * stable word ("bad_input", "too_long"), `fatal` says whether later stages
 * should skip the document. Then return a negative value from process().
 * The message is formatted like printf. */
NLPD_EXPORT void nlpd_stage_fail(nlpd_stage_ctx *ctx, const char *code, int fatal,
                                 const char *fmt, ...) NLPD_PRINTF(4, 5);

/* The stage's name and this worker's id, as the daemon knows them. */
NLPD_EXPORT const char *nlpd_stage_name(const nlpd_stage_ctx *ctx);
NLPD_EXPORT const char *nlpd_stage_worker_id(const nlpd_stage_ctx *ctx);

/* The receive time of the document in hand (microseconds since the Unix
 * epoch); stage libraries take time as input rather than reading a clock. */
NLPD_EXPORT uint64_t nlpd_stage_now_us(const nlpd_stage_ctx *ctx);

/* --- CurveZMQ keys (docs/protocol.md, "Security") ------------------------ */

/* The environment variables a worker (and nlpctl) read for Curve: the
 * daemon's public key file and this side's own key pair file. */
#define NLPD_ENV_CURVE_SERVER_KEY_FILE "NLPD_CURVE_SERVER_KEY_FILE"
#define NLPD_ENV_CURVE_KEY_FILE "NLPD_CURVE_KEY_FILE"

/* Length of a Z85-encoded Curve key, without its NUL. */
#define NLPD_CURVE_Z85_LEN 40

/* Reads a key file: the zcert format (CZMQ's, which `nlpctl keygen`
 * writes: `public-key = "Z85"` and, in a secret file, `secret-key = "Z85"`
 * lines) or a file whose first non-comment line is a bare 40-character Z85
 * public key. Writes the public key to `public_z85` (41 bytes). When
 * `secret_z85` is not NULL the file must hold the secret key too, and must
 * be readable by its owner only (no group or other permission bits): it is
 * written there (41 bytes; the public key is derived from it when the file
 * has none). Returns 0; NLPD_ENOENT (no such file), -EACCES (a secret key
 * file open to group or others), NLPD_EFORMAT (no valid key in it), or
 * another -errno, with a sentence in `why` (may be NULL). Thread-safe. */
NLPD_EXPORT int nlpd_curve_key_load(const char *path, char *public_z85, char *secret_z85,
                                    char *why, size_t why_len);

/* Makes `zsock` (a ZeroMQ socket, before its zmq_connect) a Curve client of
 * the server whose public key is in `server_key_file`, with the key pair of
 * `key_file` (see nlpd_curve_key_load). Returns 0 or the error of
 * nlpd_curve_key_load (or -errno from ZeroMQ), with a sentence in `why`. */
NLPD_EXPORT int nlpd_curve_client_setup(void *zsock, const char *server_key_file,
                                        const char *key_file, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_STAGE_H */
