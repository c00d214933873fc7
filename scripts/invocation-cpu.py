#!/usr/bin/env python3
"""Measures the authorizer process's own CPU per invocation, without AWS.

Serves a fake Lambda Runtime API (HTTP/1.1 keep-alive, as Lambda's is; each
answer's head and body in one write, as its Go server sends them) and a
JWKS on loopback, starts the release authorizer binary against them, hands it
invocations one after the other and reads the process's own CPU time before
and after the measured ones:
  cpu     utime+stime of the process (all its threads) per invocation, from
          /proc/PID/stat (clock ticks) and, finer, /proc/PID/task/*/schedstat
          (nanoseconds on a CPU); the emulator's own work is not counted
  user    the utime share, sys the stime share (from /proc/PID/stat)
Three loads: "distinct" (a new token per invocation: every one is a full
verification), "repeated" (one token over and over) and "malformed" (a
credential refused at the first check).

Usage: scripts/invocation-cpu.py BINARY [INVOCATIONS] [ROUNDS] [NAME=VALUE ...]
  INVOCATIONS per load and round (default 3000, after 300 not counted),
  ROUNDS separate processes per load (default 3; the median is printed).
  INVOCATION_CPU_WRAP="strace -f -c -o FILE" (or callgrind) runs the binary
  under a tool, for profiles; its figures then include the tool's cost.
  INVOCATION_CPU_LOADS=WORD runs only the loads whose name contains WORD.
  INVOCATION_CPU_FLOOR=1 skips the check of each answer, for the floor
  binary (`cargo build --release -p authorizer --example runtime_floor`: the
  same runtime and a handler that refuses every event unread), whose CPU
  per invocation is what the runtime's two Runtime API exchanges cost here.
  NAME=VALUE pairs are added to the binary's environment (an empty VALUE
  removes a default), e.g. POWERTOOLS_METRICS_DISABLED=true or RUST_LOG=info.
Needs python3's `cryptography` (tokens are RS256, signed here).
"""
import base64, http.server, json, os, queue, socketserver, statistics, subprocess, sys, threading, time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

args = [a for a in sys.argv[1:] if "=" not in a]
extra = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
binary = args[0]
count = int(args[1]) if len(args) > 1 else 3000
rounds = int(args[2]) if len(args) > 2 else 3
WARMUP = 300
POOL = "us-east-1_CpuPool1"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items"
TICKS = os.sysconf("SC_CLK_TCK")

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


numbers = key.public_key().public_numbers()
JWKS = json.dumps({"keys": [{"kty": "RSA", "kid": "cpu-key", "alg": "RS256", "use": "sig",
                             "n": uint(numbers.n), "e": uint(numbers.e)}]}).encode()
HEADER = b64(json.dumps({"alg": "RS256", "kid": "cpu-key", "typ": "JWT"}).encode())


def token(i):
    """A Cognito-sized first-party access token; `i` makes it distinct."""
    now = int(time.time())
    claims = {"sub": f"4f1c2b7e-9a0d-4c1e-8b3a-{i:012d}", "iss": ISSUER, "client_id": "client1",
              "token_use": "access", "scope": "aws.cognito.signin.user.admin",
              "cognito:groups": ["staff", "beta"], "username": f"user-{i}", "auth_time": now,
              "iat": now, "exp": now + 3600, "jti": f"jti-{i}", "origin_jti": f"origin-{i}",
              "event_id": f"event-{i}", "version": 2}
    signing_input = f"{HEADER}.{b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def event(tok):
    return json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {tok}", "methodArn": ARN}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API

    def log_message(self, *a):
        pass

    def reply(self, body, headers=(), status=200):
        # Head and body in one write, as the real Runtime API's Go server
        # sends a small response: hyper drains a response body the runtime
        # drops unread only when the body is already in its buffer, so a body
        # sent in a second segment closes the connection after every
        # invocation, a cost the real service does not have.
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def do_GET(self):
        if self.path.endswith("jwks.json"):
            return self.reply(JWKS, [("Content-Type", "application/json")])
        if self.path.endswith("/runtime/invocation/next"):
            n, body = self.server.events.get()
            return self.reply(body, [("Lambda-Runtime-Aws-Request-Id", f"req-{n}"),
                                     ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000)),
                                     ("Lambda-Runtime-Invoked-Function-Arn",
                                      "arn:aws:lambda:us-east-1:123456789012:function:f")])
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(b'{"status":"OK"}\n', [("Content-Type", "application/json")], status=202)
        self.server.outcomes.put((self.path.endswith("/response"), body))


def cpu(pid):
    """(utime, stime) in seconds from /proc/PID/stat, and on-CPU ns of all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]) / TICKS, int(fields[12]) / TICKS
    ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return utime, stime, ns


def run(bodies, expect_allow=True):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # Queues of this server only: a killed process's parked request must not
    # take the next run's first event.
    server.events, server.outcomes = queue.Queue(), queue.Queue()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME="f",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="1",
               COGNITO_USER_POOL_ID=POOL, COGNITO_CLIENT_IDS="client1",
               JWKS_URI=f"http://127.0.0.1:{port}/jwks.json", RUST_LOG="off")
    for k, v in extra.items():
        if v:
            env[k] = v
        else:
            env.pop(k, None)
    # INVOCATION_CPU_WRAP runs the binary under a tool (strace, callgrind);
    # the figures then include the tool's own cost.
    wrap = os.environ.get("INVOCATION_CPU_WRAP", "").split()
    proc = subprocess.Popen(wrap + [binary], env=env, stdout=(None if os.environ.get("CPU_STDERR") else subprocess.DEVNULL), stderr=(None if os.environ.get("CPU_STDERR") else subprocess.DEVNULL))
    try:
        allowed = 0
        before = None
        for n, body in enumerate(bodies):
            if n == WARMUP:
                before = cpu(proc.pid)
            server.events.put((n, body))
            ok, answer = server.outcomes.get(timeout=60)
            allowed += ok and b'"Allow"' in answer
        after = cpu(proc.pid)
    finally:
        # SIGTERM first, so a wrapping tool writes its summary.
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        server.server_close()
    measured = len(bodies) - WARMUP
    if not os.environ.get("INVOCATION_CPU_FLOOR") and allowed != (len(bodies) if expect_allow else 0):
        sys.exit(f"{allowed} of {len(bodies)} invocations were allowed")
    per = lambda a, b: (b - a) / measured * 1e6
    return per(before[0], after[0]), per(before[1], after[1]), (after[2] - before[2]) / measured / 1e3


print(f"minting {WARMUP + count} tokens ...", file=sys.stderr)
distinct = [event(token(i)) for i in range(WARMUP + count)]
repeated = [distinct[0]] * (WARMUP + count)
print(f"{binary}: {count} invocations per process after {WARMUP} not counted, {rounds} processes per load")
malformed = [event("a.b.c")] * (WARMUP + count)
loads = (("distinct tokens", distinct, True), ("repeated token", repeated, True),
         ("malformed token", malformed, False))
only = os.environ.get("INVOCATION_CPU_LOADS")  # e.g. "malformed": those loads only
for name, bodies, expect_allow in loads:
    if only and only not in name:
        continue
    results = [run(bodies, expect_allow) for _ in range(rounds)]
    user = statistics.median(r[0] for r in results)
    sys_ = statistics.median(r[1] for r in results)
    sched = [r[2] for r in results]
    print(f"  {name:16} cpu {statistics.median(sched):6.1f} us/invocation (schedstat; min {min(sched):.1f}, "
          f"max {max(sched):.1f}); /proc stat user {user:.1f} + sys {sys_:.1f} = {user + sys_:.1f} us")
