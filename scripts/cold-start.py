#!/usr/bin/env python3
"""Measures Lambda binaries' cold start on this machine, without AWS.

Serves a fake Lambda Runtime API (and a JWKS, Secrets Manager's
GetSecretValue and DynamoDB's Query) on loopback, starts each binary with
AWS_LAMBDA_RUNTIME_API and AWS_ENDPOINT_URL pointing at it, hands it one
event, and reports per binary:
  init    exec -> first GET /runtime/invocation/next (config, clients, the
          cold-start JWKS fetch, secrets read at cold start)
  first   the first invocation, event handed over -> error/response posted
  answer  exec -> that first answer posted (init + first + the hand-over)
  cpu     the process's own time on a CPU up to that answer, all threads
          (/proc/PID/task/*/schedstat): unlike the times above, it does not
          grow when other processes keep the machine busy
  faults  its minor page faults up to the answer (/proc/PID/stat)
Each variant is a binary with an environment. With several variants the
runs are interleaved (one run of each, in an order that rotates, then the
next round), so a machine that slows down or speeds up moves them all alike,
and each variant after the first is also given as the median of its
per-round differences from the first in `answer` and `cpu`: put the floor
first (`runtime_floor`, a lambda_runtime process that refuses every event
unread), or the configuration to compare with.

Usage: scripts/cold-start.py BINARY [BINARY ...] [RUNS] [NAME=VALUE ...] [--vs NAME=VALUE ...]
  RUNS rounds (default 10); NAME=VALUE pairs are added to every variant's
  environment (an empty VALUE removes a default), e.g.
  USER_USAGE_KEY_SECRET_ID=users-usage-key or, for the api,
  TABLE_NAME=items CURSOR_KEY_SECRET_ID=cursor-key. @PORT@ in a VALUE
  becomes the fake server's port.
  --vs: one more variant, the first BINARY with the pairs after --vs added,
  e.g. the authorizer with trusted issuers against the pool alone.
Trusted issuers: GET /issuers/<name>/.well-known/openid-configuration is a
discovery document for the issuer http://127.0.0.1:<port>/issuers/<name>,
whose jwks_uri (like every path ending in jwks.json) serves the JWKS, e.g.
  scripts/cold-start.py target/release/authorizer 50 --vs \
    'TRUSTED_ISSUERS=[{"alias":"a","issuer":"http://127.0.0.1:@PORT@/issuers/a","audiences":["x"]}]'
COLD_START_EVENT=FILE hands over that JSON event (default: a TOKEN event
  with a malformed token), e.g. api/tests/fixtures/rest-get-items.json for
  the api: a list of the caller's items, one DynamoDB Query answered empty.
COLD_START_WRAP="valgrind --tool=callgrind" (or strace -f -c) profiles it.
Secrets served: any SecretId containing "registry" gets an empty partner key
registry, "cursor" a 64-byte key, anything else a 40-character usage key.

The api against the floor, as docs/PERFORMANCE.md reports it:
  cargo build --release --workspace --bin api --example runtime_floor
  COLD_START_EVENT=api/tests/fixtures/rest-get-items.json scripts/cold-start.py \\
    target/release/examples/runtime_floor target/release/api 40 \\
    TABLE_NAME=items CURSOR_KEY_SECRET_ID=cursor-key
"""
import http.server, json, os, socketserver, statistics, subprocess, sys, threading, time

argv, vs = (sys.argv[1:], None) if "--vs" not in sys.argv else (
    sys.argv[1:sys.argv.index("--vs")], sys.argv[sys.argv.index("--vs") + 1:])
args = [a for a in argv if "=" not in a]
extra = dict(a.split("=", 1) for a in argv if "=" in a)
binaries = [a for a in args if not a.isdigit()]
runs = int(next((a for a in args if a.isdigit()), 10))
if not binaries:
    sys.exit(__doc__)
# (name, binary, environment pairs)
variants = [(b, b, extra) for b in binaries]
if vs is not None:
    variants.append((f"{binaries[0]} --vs", binaries[0], dict(extra, **dict(a.split("=", 1) for a in vs if "=" in a))))
if os.environ.get("COLD_START_EVENT"):
    with open(os.environ["COLD_START_EVENT"], "rb") as f:
        EVENT = json.dumps(json.load(f)).encode()
else:
    EVENT = json.dumps({"type": "TOKEN", "authorizationToken": "Bearer a.b.c",
                        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items"}).encode()
JWKS = json.dumps({"keys": [{"kty": "RSA", "kid": "k", "alg": "RS256", "use": "sig", "e": "AQAB",
    "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}).encode()

class State:
    next_at = None; posted_at = None; handed_at = None; served = False
    pid = None; cpu_ms = None; faults = None
    done = threading.Event()

def usage(pid):
    """(on-CPU ms of all threads, minor faults) of a live process."""
    ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    with open(f"/proc/{pid}/stat") as f:
        minflt = int(f.read().rsplit(")", 1)[1].split()[7])
    return ns / 1e6, minflt

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API
    def log_message(self, *a): pass
    def reply(self, body, headers=(), status=200):
        # Head and body in one write, as the real Runtime API sends them
        # (see scripts/invocation-cpu.py).
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body); self.flush_headers()
    def do_GET(self):
        if self.path.startswith("/issuers/") and self.path.endswith("/.well-known/openid-configuration"):
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}" + self.path.rsplit("/.well-known/", 1)[0]
            return self.reply(json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"}).encode(),
                              [("Content-Type", "application/json")])
        if self.path.endswith("jwks.json"):
            return self.reply(JWKS, [("Content-Type", "application/json")])
        if self.path.endswith("/runtime/invocation/next"):
            if State.served:  # park the runtime until the process is killed
                State.done.wait(5); return
            State.next_at = time.perf_counter(); State.served = True
            State.handed_at = time.perf_counter()
            return self.reply(EVENT, [("Lambda-Runtime-Aws-Request-Id", "req-1"),
                ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000)),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f")])
        self.reply(b"{}", status=404)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if target == "secretsmanager.GetSecretValue":
            secret_id = json.loads(body).get("SecretId", "")
            value = ('{"keys":[]}' if "registry" in secret_id
                     else "k" * 64 if "cursor" in secret_id else "u" * 40)
            return self.reply(json.dumps({"ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}",
                                          "Name": secret_id, "SecretString": value, "VersionId": "v1",
                                          "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9}).encode(),
                              [("Content-Type", "application/x-amz-json-1.1")])
        if target == "DynamoDB_20120810.Query":
            return self.reply(b'{"Count":0,"Items":[],"ScannedCount":0}',
                              [("Content-Type", "application/x-amz-json-1.0")])
        if "/runtime/invocation/" in self.path:
            State.posted_at = time.perf_counter()
            if State.pid is not None:
                State.cpu_ms, State.faults = usage(State.pid)
            self.reply(b'{"status":"OK"}', status=202)
            State.done.set()
            return
        self.reply(b"{}", status=404)

class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass  # a killed process resets its kept-alive connections

def env_for(port, extra=extra):
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
    AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME="f",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="1",
    COGNITO_USER_POOL_ID="us-east-1_Cold1", COGNITO_CLIENT_IDS="c1",
    JWKS_URI=f"http://127.0.0.1:{port}/jwks.json", RUST_LOG="off")
    for k, v in extra.items():
        if v: env[k] = v.replace("@PORT@", str(port))
        else: env.pop(k, None)
    return env

def run(binary, extra):
    """One cold start: (init, first, answer, cpu) in ms and page faults, or None if it never answered."""
    # A server per run, so a killed process's late request cannot reach the next run.
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    State.next_at = State.posted_at = State.pid = State.cpu_ms = State.faults = None
    State.served = False; State.done.clear()
    start = time.perf_counter()
    # COLD_START_WRAP runs the binary under a tool (strace, callgrind) to
    # profile the cold start; the times then include the tool's cost.
    wrap = os.environ.get("COLD_START_WRAP", "").split()
    proc = subprocess.Popen(wrap + [binary], env=env_for(server.server_address[1], extra),
                            stdout=subprocess.DEVNULL, stderr=(None if os.environ.get("COLD_START_STDERR") else subprocess.DEVNULL))
    State.pid = proc.pid
    State.done.wait(60 if wrap else 10)
    # SIGTERM first, so a wrapping tool writes its profile.
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill(); proc.wait()
    State.done.set(); server.shutdown(); server.server_close()
    if State.next_at is None or State.posted_at is None:
        return None
    return ((State.next_at - start) * 1000, (State.posted_at - State.handed_at) * 1000,
            (State.posted_at - start) * 1000, State.cpu_ms or 0.0, State.faults or 0)

names = [name for name, _, _ in variants]
results = {n: [] for n in names}
paired = {n: [] for n in names[1:]}
failed = {n: 0 for n in names}
for round_ in range(runs):
    shift = round_ % len(variants)
    this_round = {}
    for name, binary, env in variants[shift:] + variants[:shift]:
        r = run(binary, env)
        if r is None:
            failed[name] += 1
        else:
            results[name].append(r); this_round[name] = r
    if names[0] in this_round:
        for n in names[1:]:
            if n in this_round:
                mine, first = this_round[n], this_round[names[0]]
                paired[n].append((mine[2] - first[2], mine[3] - first[3]))

for name, binary, _ in variants:
    rs = results[name]
    if not rs:
        print(f"{name}: never completed an invocation")
        continue
    med = lambda i: statistics.median(r[i] for r in rs)
    size = os.path.getsize(binary)
    line = (f"{name}: {size / 1024 / 1024:.2f} MiB; init median {med(0):.2f} ms (min {min(r[0] for r in rs):.2f}); "
            f"first invocation median {med(1):.2f} ms; spawn -> first answer median {med(2):.2f} ms "
            f"(min {min(r[2] for r in rs):.2f}); cpu median {med(3):.2f} ms; faults median {med(4):.0f}; "
            f"over {len(rs)} runs")
    if failed[name]:
        line += f" ({failed[name]} runs did not complete)"
    if name in paired and paired[name]:
        quart = lambda d: f"median {statistics.median(d):+.2f} ms (quartiles {d[len(d) // 4]:+.2f} .. {d[(3 * len(d)) // 4]:+.2f})"
        answer = sorted(p[0] for p in paired[name]); cpu = sorted(p[1] for p in paired[name])
        line += (f"\n  minus {os.path.basename(names[0])}, paired by round: answer {quart(answer)}; cpu {quart(cpu)}")
    print(line)
if not any(results.values()):
    sys.exit("no binary completed an invocation")
