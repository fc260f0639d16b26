"""nlpd_stage -- the stage SDK for Python: a custom nlpd stage is one callback.

    import nlpd_stage

    def process(doc, out):
        text = nlpd_stage.doc_text(doc)       # bytes; spans are byte offsets
        if b"Seoul" in text:
            start = text.index(b"Seoul")
            nlpd_stage.annotate(out, "city", value="Seoul", start=start, end=start + 5)

    if __name__ == "__main__":
        raise SystemExit(nlpd_stage.Worker("mystage", "1.0").run(process))

`doc` is the document as received, an nlpd_pb2.Document: read it, do not
change it. `out` is an empty nlpd_pb2.Document the callback fills with this
stage's additions only (annotations, entities, sentences, tokens, summary,
errors). The worker answers with the bytes it received followed by the
encoding of `out`: protobuf merges the two, so nothing an earlier stage wrote
is rewritten and fields this copy of nlpd.proto does not know pass through.

The Worker speaks the wire protocol of docs/protocol.md exactly as the C
runtime (stages/runtime/stage.c) does:

- Endpoints and identity come from the environment the daemon sets
  (NLPD_STAGE_ENDPOINT, NLPD_CONTROL_ENDPOINT, NLPD_STAGE, NLPD_WORKER_ID,
  NLPD_WINDOW, NLPD_HEARTBEAT_MS, NLPD_LOG_LEVEL) or, for a worker started
  by hand, from --endpoint, --control, --stage, --worker-id, --window,
  --heartbeat-ms and --log-level. Other arguments are the stage's own, in
  Worker.args. On another host, with tcp:// endpoints, the worker uses
  CurveZMQ with NLPD_CURVE_SERVER_KEY_FILE (--server-key: the daemon's
  public key) and NLPD_CURVE_KEY_FILE (--key: its own pair, `nlpctl keygen`).
- A DEALER socket with the worker id as its routing id says HELLO, then
  STARTED and ADDED for each document, in order. Heartbeats go from a thread
  with its own PUSH socket (a ZeroMQ socket belongs to one thread), so a
  long document never looks like a dead worker.
- An exception in the callback gives the document an error record (code
  "stage_error", the exception's text as the message) and none of the call's
  additions; the worker goes on. Raise StageError for a precise code, or to
  mark the document as fatally broken. A document an earlier stage marked
  fatal is passed through untouched (unless wants_failed_documents).
- SIGTERM or SIGINT, and the daemon's STOP, finish the document in hand, send
  BYE (the daemon takes back what was not started) and exit 0. RESET sends
  HELLO again. A worker the daemon spawned dies with it (PR_SET_PDEATHSIG).
- Logs go to stderr as "<6>stage=NAME worker=ID msg=..." lines, which
  journald reads with their priority. Document text is never logged.

Needs pyzmq and protobuf (Debian: python3-zmq, python3-protobuf) and the
generated nlpd_pb2 module on the path (the build writes it to BUILD/python).
"""

import ctypes
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback

import zmq

import nlpd_pb2

__all__ = ["Worker", "StageError", "doc_text", "option", "annotate", "load_curve_key", "LOG_ERR",
           "LOG_WARNING", "LOG_NOTICE", "LOG_INFO", "LOG_DEBUG"]

LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 3, 4, 5, 6, 7
_LEVELS = {"err": LOG_ERR, "error": LOG_ERR, "warning": LOG_WARNING, "notice": LOG_NOTICE,
           "info": LOG_INFO, "debug": LOG_DEBUG}

DEFAULT_WINDOW = 2
DEFAULT_HEARTBEAT_MS = 1000
_BATCH_MAX_DOCS = 64          # messages handled before looking at signals again
_MAX_MESSAGE = 512            # error messages are cut to this many characters
_PR_SET_PDEATHSIG = 1
# Fields of `out` a stage may fill: it appends, it never sets what ingest owns.
_ADDITIONS = frozenset({"sentences", "tokens", "entities", "summary", "annotations", "errors"})

_RUNTIME_FLAGS = {
    "--endpoint": "endpoint", "--control": "control", "--stage": "stage",
    "--worker-id": "worker_id", "--window": "window", "--heartbeat-ms": "heartbeat_ms",
    "--log-level": "log_level", "--server-key": "server_key", "--key": "key",
}


_Z85_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       b".-:+=^!/*?&<>()[]{}@%$#")


def load_curve_key(path, secret=False):
    """Reads a key file as the C runtime does (docs/protocol.md, "Key files"):
    zcert `public-key = "Z85"` / `secret-key = "Z85"` lines, or a bare Z85
    public key line. Returns (public, secret) as Z85 bytes (secret None
    unless asked for). With `secret`, the file must hold the secret key and
    be readable by its owner only. Raises OSError or ValueError."""
    st = os.stat(path)
    if secret and st.st_mode & 0o077:
        raise ValueError("%s: a secret key file must be readable by its owner only "
                         "(mode %03o; chmod 600 it)" % (path, st.st_mode & 0o777))
    keys = {}
    with open(path, "rb") as f:
        for raw in f.read(65536).splitlines():
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            name, eq, value = line.partition(b"=")
            name = name.strip()
            if eq and name in (b"public-key", b"secret-key"):
                value = value.strip().strip(b"\"'")
                if len(value) != 40 or not set(value) <= _Z85_CHARS:
                    raise ValueError("%s: %s is not a Z85 key" % (path, name.decode()))
                keys[name] = value
            elif not eq and len(line) == 40 and set(line) <= _Z85_CHARS:
                keys.setdefault(b"public-key", line)
    sec = keys.get(b"secret-key")
    pub = keys.get(b"public-key")
    if secret:
        if sec is None:
            raise ValueError("%s: no secret-key in it (is it the .pub file?)" % path)
        derived = zmq.curve_public(sec)
        if pub is not None and pub != derived:
            raise ValueError("%s: its public-key does not belong to its secret-key" % path)
        pub = derived
    if pub is None:
        raise ValueError("%s: no public key in it" % path)
    return pub, (sec if secret else None)


class StageError(Exception):
    """Raised by a stage for a precise error record: `code` is a short stable
    word ("bad_input", "bad_option"), `fatal` says later stages must skip the
    document."""

    def __init__(self, code, message, fatal=False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = bool(fatal)


def doc_text(doc):
    """The normalized text every span indexes, as bytes: `norm` when it is
    set (or when an offset map says an empty norm really is empty), else
    `text`. Spans are [start, end) UTF-8 byte offsets into it."""
    m = doc.norm_map
    if doc.norm or (len(m.norm) > 0 and len(m.norm) == len(m.orig)):
        return doc.norm
    return doc.text


def option(doc, key, default=None):
    """The client's option `key` that nlpd has no field for, decoded from its
    JSON text, or `default` when it was not given. Raises StageError
    ("bad_option") when its text is not JSON."""
    if key not in doc.options.extra:
        return default
    try:
        return json.loads(doc.options.extra[key])
    except ValueError:
        raise StageError("bad_option", "option %s is not valid JSON" % key) from None


def annotate(out, kind, value=None, score=0.0, start=None, end=None):
    """Appends an annotation to `out`: over [start, end) of doc_text(), or of
    the whole document when both are None. Returns it."""
    a = out.annotations.add()
    a.kind = kind
    if start is not None or end is not None:
        if start is None or end is None:
            raise ValueError("annotate: give both start and end, or neither")
        a.has_span = True
        a.start = start
        a.end = end
    if value is not None:
        a.value = str(value)
    a.score = float(score)
    return a


def _log_level(name):
    name = name.strip().lower()
    if len(name) == 1 and name in "01234567":
        return int(name)
    return _LEVELS.get(name, -1)


def _quote(s):
    """A log value: as it is when it is one plain word, else in quotes."""
    s = s.replace("\n", " ")
    if s and not any(c in s for c in ' "\\='):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rss_kb():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _check_spans(text_len, out):
    """Raises StageError when an addition reaches outside the text, as the C
    SDK refuses such a span."""
    for i, a in enumerate(out.annotations):
        if a.has_span and not a.start <= a.end <= text_len:
            raise StageError("stage_error", "annotation %d (%s) span [%d, %d) is outside the "
                             "text of %d bytes" % (i, a.kind, a.start, a.end, text_len))
    for i, e in enumerate(out.entities):
        if not e.start <= e.end <= text_len:
            raise StageError("stage_error", "entity %d span [%d, %d) is outside the text of "
                             "%d bytes" % (i, e.start, e.end, text_len))
    for what, arr in (("sentence", out.sentences), ("token", out.tokens)):
        if len(arr.start) != len(arr.end):
            raise StageError("stage_error", "%s starts and ends differ in number" % what)
        for i, (s, e) in enumerate(zip(arr.start, arr.end)):
            if not s <= e <= text_len:
                raise StageError("stage_error", "%s %d span [%d, %d) is outside the text of "
                                 "%d bytes" % (what, i, s, e, text_len))


class Worker:
    """One stage worker: parses the runtime's arguments on creation (the rest
    are left in `args` for the stage), then run(process) serves documents
    until stopped and returns the exit status."""

    def __init__(self, name, version, argv=None, wants_failed_documents=False, usage=""):
        self.name = name
        self.version = version
        self.wants_failed_documents = wants_failed_documents
        self.usage = usage
        self.now_us = 0           # receive time of the document in hand
        self._stopping = False
        self._signal = None
        self._lock = threading.Lock()
        self._processed = 0
        self._errors = 0
        self._current_key = ""
        self._hb_stop = threading.Event()
        self._parse_args(sys.argv[1:] if argv is None else list(argv))

    # --- Arguments --------------------------------------------------------

    def _print_usage(self, out):
        out.write(
            "usage: %s [runtime options] [stage options]\n"
            "\n"
            "A stage worker of nlpd. The daemon starts it with its endpoints in the\n"
            "environment; start it by hand to join a pipeline from another host.\n"
            "\n"
            "Runtime options (environment variable in brackets):\n"
            "  --endpoint EP      the daemon's socket for this stage [NLPD_STAGE_ENDPOINT]\n"
            "  --control EP       the daemon's heartbeat socket [NLPD_CONTROL_ENDPOINT]\n"
            "  --stage NAME       stage name (default %s) [NLPD_STAGE]\n"
            "  --worker-id ID     unique id of this worker [NLPD_WORKER_ID]\n"
            "  --window N         documents held at once (default %d) [NLPD_WINDOW]\n"
            "  --heartbeat-ms N   heartbeat interval (default %d) [NLPD_HEARTBEAT_MS]\n"
            "  --log-level LEVEL  err, warning, notice, info, debug [NLPD_LOG_LEVEL]\n"
            "  --server-key FILE  the daemon's public key: CurveZMQ on tcp:// endpoints\n"
            "                     [NLPD_CURVE_SERVER_KEY_FILE]\n"
            "  --key FILE         this worker's key pair (nlpctl keygen) [NLPD_CURVE_KEY_FILE]\n"
            "  --version, --help\n"
            % (os.path.basename(sys.argv[0] or self.name), self.name, DEFAULT_WINDOW,
               DEFAULT_HEARTBEAT_MS))
        if self.usage:
            out.write("\nStage options:\n" + self.usage.rstrip("\n") + "\n")

    def _fail_args(self, msg):
        sys.stderr.write("%s: %s\n" % (self.name, msg))
        raise SystemExit(2)

    def _parse_args(self, argv):
        def env(name):
            v = os.environ.get(name)
            return v if v else None

        opts = {
            "endpoint": env("NLPD_STAGE_ENDPOINT"), "control": env("NLPD_CONTROL_ENDPOINT"),
            "stage": env("NLPD_STAGE") or self.name, "worker_id": env("NLPD_WORKER_ID"),
            "window": env("NLPD_WINDOW"), "heartbeat_ms": env("NLPD_HEARTBEAT_MS"),
            "log_level": env("NLPD_LOG_LEVEL") or "info",
            "server_key": env("NLPD_CURVE_SERVER_KEY_FILE"), "key": env("NLPD_CURVE_KEY_FILE"),
        }
        rest = []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a in ("--help", "-h"):
                self._print_usage(sys.stdout)
                raise SystemExit(0)
            if a == "--version":
                sys.stdout.write("%s %s\n" % (self.name, self.version))
                raise SystemExit(0)
            flag, eq, value = a.partition("=")
            if flag in _RUNTIME_FLAGS:
                if not eq:
                    if i + 1 >= len(argv):
                        self._fail_args("%s needs a value" % a)
                    i += 1
                    value = argv[i]
                opts[_RUNTIME_FLAGS[flag]] = value
            else:
                rest.append(a)
            i += 1
        self.args = rest

        if not opts["endpoint"]:
            self._fail_args("no endpoint: the daemon passes NLPD_STAGE_ENDPOINT; by hand, "
                            "give --endpoint")
        self.endpoint = opts["endpoint"]
        self.control = opts["control"] or ""
        self.stage = opts["stage"]
        self.window = self._int_opt(opts["window"], DEFAULT_WINDOW, 1, 1024, "window")
        self.heartbeat_ms = self._int_opt(opts["heartbeat_ms"], DEFAULT_HEARTBEAT_MS, 10,
                                          600000, "heartbeat-ms")
        self.log_level = _log_level(opts["log_level"])
        if self.log_level < 0:
            self._fail_args("unknown log level '%s'" % opts["log_level"])
        # Only workers the daemon spawned (it sets NLPD_SPAWNED to its pid) leave
        # with it; one started by hand or by systemd (parent PID 1) stays.
        self.spawned = env("NLPD_SPAWNED") is not None
        self.worker_id = opts["worker_id"] or "%s@%s:%d" % (
            self.stage, socket.gethostname(), os.getpid())
        # CurveZMQ for tcp:// endpoints: (server public, own public, own secret).
        # Keys serve tcp:// endpoints only: a worker on ipc ignores them.
        self.curve = None
        tcp = self.endpoint.startswith("tcp://") or self.control.startswith("tcp://")
        if not tcp:
            return
        if bool(opts["server_key"]) != bool(opts["key"]):
            self._fail_args("CurveZMQ needs both the daemon's public key (--server-key, "
                            "NLPD_CURVE_SERVER_KEY_FILE) and this worker's key pair (--key, "
                            "NLPD_CURVE_KEY_FILE)")
        if opts["server_key"]:
            try:
                server, _ = load_curve_key(opts["server_key"])
                public, secret = load_curve_key(opts["key"], secret=True)
            except (OSError, ValueError) as e:
                self._fail_args(str(e))
            self.curve = (server, public, secret)

    def _int_opt(self, value, default, lo, hi, what):
        if value is None:
            return default
        try:
            v = int(value, 10)
        except ValueError:
            v = lo - 1
        if not lo <= v <= hi:
            self._fail_args("%s must be %d..%d" % (what, lo, hi))
        return v

    # --- Logging ----------------------------------------------------------

    def log(self, level, msg, **fields):
        """Writes one "<level>stage=... worker=... key=value msg=..." line to
        stderr when `level` is enabled."""
        if level > self.log_level:
            return
        parts = ["<%d>stage=%s worker=%s" % (level, self.stage, self.worker_id)]
        parts.extend("%s=%s" % (k, _quote(str(v))) for k, v in fields.items())
        parts.append("msg=" + _quote(msg))
        try:
            os.write(2, (" ".join(parts) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    # --- Running ----------------------------------------------------------

    def run(self, process):
        """Serves documents with `process(doc, out)` until SIGTERM, SIGINT or
        the daemon's STOP. Returns the exit status: 0 after a clean stop, 1
        when the worker could not start."""
        if self.spawned:
            self._die_with_parent()
            if os.getppid() == 1:
                return 0  # the daemon is already gone
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        old_term = signal.signal(signal.SIGTERM, self._on_signal)
        old_int = signal.signal(signal.SIGINT, self._on_signal)
        self._ctx = zmq.Context()
        sock = None
        hb = None
        code = 1
        try:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 2000)
            sock.setsockopt(zmq.SNDHWM, 0)  # the credit window bounds it
            sock.setsockopt(zmq.ROUTING_ID, self.worker_id.encode("utf-8"))
            self._curve(sock, self.endpoint)
            sock.connect(self.endpoint)
            if self.control:
                hb = threading.Thread(target=self._heartbeat_main, name="heartbeat",
                                      daemon=True)
                hb.start()
            self._send_hello(sock)
            self.log(LOG_INFO, "ready", version=self.version, endpoint=self.endpoint)
            self._loop(sock, wake_r, process)
            code = 0
        except zmq.ZMQError as e:
            self.log(LOG_ERR, "cannot start: %s" % e)
        finally:
            self._hb_stop.set()
            if hb is not None:
                hb.join()
            if sock is not None:
                sock.close()
            self._ctx.term()
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)
            signal.set_wakeup_fd(old_wakeup)
            wake_r.close()
            wake_w.close()
        return code

    def _die_with_parent(self):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        except (OSError, AttributeError) as e:
            self.log(LOG_WARNING, "cannot ask to die with the daemon: %s" % e)

    def _on_signal(self, signum, frame):
        # Runs on the main thread between bytecodes: only note it; the loop
        # stops once the document in hand is done.
        self._signal = signal.Signals(signum).name

    def _loop(self, sock, wake, process):
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        while not self._stopping:
            if self._signal is not None:
                self._begin_stop(sock, self._signal)
                break
            try:
                events = dict(poller.poll(500))
            except zmq.ZMQError as e:
                if e.errno == zmq.EINTR:
                    continue
                raise
            if wake in events:
                try:
                    while wake.recv(256):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
            # Documents arrive in order and are processed in order; signals
            # are looked at between any two of them.
            for _ in range(_BATCH_MAX_DOCS):
                if self._stopping or self._signal is not None:
                    break
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._handle(sock, frames, process)

    def _begin_stop(self, sock, why):
        if self._stopping:
            return
        self._stopping = True
        self.log(LOG_INFO, "stopping: %s" % why)
        # BYE tells the daemon to take back what it sent and we did not do.
        try:
            sock.send(b"BYE", zmq.NOBLOCK)
        except zmq.ZMQError as e:
            self.log(LOG_WARNING, "cannot say goodbye: %s" % e)

    def _handle(self, sock, frames, process):
        verb = frames[0] if frames else b""
        if verb == b"DOC" and len(frames) == 3:
            if not self._stopping:
                self._handle_doc(sock, frames[1], frames[2], process)
        elif verb == b"STOP" and len(frames) == 1:
            self._begin_stop(sock, "the daemon asked")
        elif verb == b"RESET" and len(frames) == 1:
            # The daemon does not know us (it restarted): introduce again.
            self.log(LOG_NOTICE, "daemon reset; saying hello again")
            if not self._stopping:
                self._send_hello(sock)
        else:
            self.log(LOG_WARNING, "ignoring a malformed message (%d frames)" % len(frames))

    def _send_hello(self, sock):
        h = nlpd_pb2.WorkerHello(stage=self.stage, version=self.version, worker=self.worker_id,
                                 pid=os.getpid(), host=socket.gethostname(), window=self.window)
        sock.send_multipart([b"HELLO", h.SerializeToString()])

    def _handle_doc(self, sock, key, data, process):
        # The time limit runs from here, not from when the document was queued.
        sock.send_multipart([b"STARTED", key])
        skey = key.decode("utf-8", "replace")
        with self._lock:
            self._current_key = skey
        status, delta = self._run_stage(skey, data, process)
        # Out: only the additions (ADDED); the daemon appends them to the
        # document it sent, so the document does not travel back.
        sock.send_multipart([b"ADDED", key, status.encode("ascii"), delta])
        with self._lock:
            self._current_key = ""
            self._processed += 1
            if status != "ok":
                self._errors += 1

    def _run_stage(self, key, data, process):
        """Runs the stage on one document. Returns the status word for DONE
        and the encoded additions (b"" for none)."""
        self.now_us = time.time_ns() // 1000
        doc = nlpd_pb2.Document()
        try:
            doc.ParseFromString(data)
        except Exception as e:  # google.protobuf.message.DecodeError, by implementation
            self.log(LOG_WARNING, "undecodable document: %s" % type(e).__name__, doc=key)
            return "malformed", b""
        if not self.wants_failed_documents and any(e.fatal for e in doc.errors):
            return "fatal", b""  # passed through untouched
        out = nlpd_pb2.Document()
        failure = None
        t0 = time.monotonic_ns()
        try:
            process(doc, out)
            unknown = [f.name for f, _ in out.ListFields() if f.name not in _ADDITIONS]
            if unknown:
                raise StageError("stage_error", "a stage only appends; it set %s"
                                 % ", ".join(sorted(unknown)))
            _check_spans(len(doc_text(doc)), out)
        except StageError as e:
            failure = (e.code or "stage_error", e.message, e.fatal)
        except Exception as e:
            # The exception's text only: a traceback could quote the document.
            failure = ("stage_error", str(e) or type(e).__name__, False)
            if self.log_level >= LOG_DEBUG:
                self.log(LOG_DEBUG, "".join(traceback.format_exception_only(type(e), e))
                         .strip(), doc=key, where=_where(e))
        elapsed_us = (time.monotonic_ns() - t0) // 1000

        status = "ok"
        if failure is not None:
            code, message, fatal = failure
            message = str(message)[:_MAX_MESSAGE]
            out.Clear()  # a failed stage adds nothing but its error record
            out.errors.add(stage=self.stage, code=code, message=message, fatal=fatal)
            status = "fatal" if fatal else "error"
            self.log(LOG_INFO, message, doc=key, code=code)
        else:
            for a in out.annotations:
                a.stage = self.stage
            for e in out.errors:
                if not e.stage:
                    e.stage = self.stage
            if len(out.errors) > 0:
                # A stage that recorded a problem and went on.
                status = "fatal" if any(e.fatal for e in out.errors) else "error"
        out.trace.add(stage=self.stage, version=self.version, worker=self.worker_id,
                      elapsed_us=elapsed_us, started_unix_us=self.now_us)
        return status, out.SerializeToString()

    def _curve(self, sock, endpoint):
        """Makes `sock` a CurveZMQ client when keys are given and `endpoint`
        is tcp:// (ipc:// endpoints are guarded by file permissions)."""
        if self.curve is None or not endpoint.startswith("tcp://"):
            return
        server, public, secret = self.curve
        sock.curve_serverkey = server
        sock.curve_publickey = public
        sock.curve_secretkey = secret

    # --- Heartbeats -------------------------------------------------------

    def _heartbeat_main(self):
        push = self._ctx.socket(zmq.PUSH)
        try:
            push.setsockopt(zmq.LINGER, 0)
            push.setsockopt(zmq.SNDHWM, 4)
            self._curve(push, self.control)
            push.connect(self.control)
            while True:
                self._send_heartbeat(push)
                if self._hb_stop.wait(self.heartbeat_ms / 1000.0):
                    break
        except zmq.ZMQError as e:
            self.log(LOG_ERR, "cannot send heartbeats to %s: %s" % (self.control, e))
        finally:
            push.close()

    def _send_heartbeat(self, push):
        with self._lock:
            hb = nlpd_pb2.Heartbeat(stage=self.stage, worker=self.worker_id, pid=os.getpid(),
                                    processed=self._processed, errors=self._errors,
                                    current_key=self._current_key)
        hb.rss_kb = _rss_kb()
        try:
            # Never block: with the daemon gone a heartbeat is worth nothing.
            push.send_multipart([b"HEARTBEAT", hb.SerializeToString()], zmq.NOBLOCK)
        except zmq.Again:
            pass


def _where(e):
    """File and line where an exception was raised, for debug logs."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return "%s:%d" % (os.path.basename(tb.tb_frame.f_code.co_filename), tb.tb_lineno)
