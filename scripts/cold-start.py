#!/usr/bin/env python3
"""Measures a Lambda binary's cold start on this machine, without AWS.

Serves a fake Lambda Runtime API (and a JWKS, and Secrets Manager's
GetSecretValue) on loopback, starts the binary with AWS_LAMBDA_RUNTIME_API
and AWS_ENDPOINT_URL pointing at it, and reports:
  init    exec -> first GET /runtime/invocation/next (config, clients, the
          cold-start JWKS fetch, secrets read at cold start)
  first   the first invocation, event handed over -> error/response posted
Usage: scripts/cold-start.py BINARY [RUNS] [NAME=VALUE ...] [--vs NAME=VALUE ...]
  NAME=VALUE pairs are added to the binary's environment (an empty VALUE
  removes a default), e.g. USER_USAGE_KEY_SECRET_ID=users-usage-key or, for
  the api, TABLE_NAME=items CURSOR_KEY_SECRET_ID=cursor-key. @PORT@ in a
  VALUE becomes the fake server's port.
  --vs: RUNS runs of each configuration, interleaved (A, B, A, B, ...: the
  machine's drift hits both alike): A is the pairs before --vs, B those
  and the pairs after it. Prints both, and B - A to the first decision
  (init + first invocation): the difference of the medians and the median
  of the paired differences.
Trusted issuers: GET /issuers/<name>/.well-known/openid-configuration is a
discovery document for the issuer http://127.0.0.1:<port>/issuers/<name>,
whose jwks_uri (like every path ending in jwks.json) serves the JWKS, e.g.
  --vs 'TRUSTED_ISSUERS=[{"alias":"a","issuer":"http://127.0.0.1:@PORT@/issuers/a","audiences":["x"]}]' 
COLD_START_WRAP="valgrind --tool=callgrind" (or strace -f -c) profiles it.
Secrets served: any SecretId containing "registry" gets an empty partner key
registry, "cursor" a 64-byte key, anything else a 40-character usage key.
"""
import http.server, json, os, socketserver, statistics, subprocess, sys, threading, time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 and "=" not in sys.argv[2] else 10
args, vs = (sys.argv[2:], None) if "--vs" not in sys.argv else (
    sys.argv[2:sys.argv.index("--vs")], sys.argv[sys.argv.index("--vs") + 1:])
extra = dict(a.split("=", 1) for a in args if "=" in a)
alt = None if vs is None else dict(extra, **dict(a.split("=", 1) for a in vs if "=" in a))
EVENT = json.dumps({"type": "TOKEN", "authorizationToken": "Bearer a.b.c",
                    "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items"}).encode()
JWKS = json.dumps({"keys": [{"kty": "RSA", "kid": "k", "alg": "RS256", "use": "sig", "e": "AQAB",
    "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}).encode()

class State:
    next_at = None; posted_at = None; handed_at = None; served = False
    done = threading.Event()

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, body, headers=()):
        # Head and body in one write, as the real Runtime API sends them
        # (see scripts/invocation-cpu.py).
        self.send_response(200)
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
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("X-Amz-Target", "") == "secretsmanager.GetSecretValue":
            secret_id = json.loads(body).get("SecretId", "")
            value = ('{"keys":[]}' if "registry" in secret_id
                     else "k" * 64 if "cursor" in secret_id else "u" * 40)
            return self.reply(json.dumps({"ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}",
                                          "Name": secret_id, "SecretString": value, "VersionId": "v1",
                                          "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9}).encode(),
                              [("Content-Type", "application/x-amz-json-1.1")])
        State.posted_at = time.perf_counter(); self.reply(b"{}"); State.done.set()

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

def run_once(extra=extra):
    """One cold start: (init ms, first invocation ms), or None."""
    # A server per run, so a killed process's late request cannot reach the next run.
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    State.next_at = State.posted_at = None; State.served = False; State.done.clear()
    start = time.perf_counter()
    # COLD_START_WRAP runs the binary under a tool (strace, callgrind) to
    # profile the cold start; the times then include the tool's cost.
    wrap = os.environ.get("COLD_START_WRAP", "").split()
    proc = subprocess.Popen(wrap + [binary], env=env_for(server.server_address[1], extra),
                            stdout=subprocess.DEVNULL, stderr=(None if os.environ.get("COLD_START_STDERR") else subprocess.DEVNULL))
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
    return (State.next_at - start) * 1000, (State.posted_at - State.handed_at) * 1000

if alt is not None:
    both = {"A": [], "B": []}
    for _ in range(runs):
        a, b = run_once(extra), run_once(alt)
        if a and b: both["A"].append(a); both["B"].append(b)
    if not both["A"]:
        sys.exit("the binary never completed an invocation")
    for name, got in both.items():
        print(f"{name}: init median {statistics.median(i for i, _ in got):.2f} ms, first invocation median "
              f"{statistics.median(f for _, f in got):.2f} ms, to the first decision median "
              f"{statistics.median(i + f for i, f in got):.2f} ms over {len(got)} runs")
    total = {k: [i + f for i, f in v] for k, v in both.items()}
    print(f"B - A to the first decision: medians {statistics.median(total['B']) - statistics.median(total['A']):+.2f} ms, "
          f"paired {statistics.median(b - a for a, b in zip(total['A'], total['B'])):+.2f} ms "
          f"({runs - len(total['A'])} pairs incomplete)")
    sys.exit(0)

inits, firsts, failed = [], [], 0
for _ in range(runs):
    got = run_once()
    if got is None:
        failed += 1
        continue
    inits.append(got[0]); firsts.append(got[1])
if not inits:
    sys.exit("the binary never completed an invocation")
size = os.path.getsize(binary)
print(f"{binary}: {size / 1024 / 1024:.2f} MiB; init median {statistics.median(inits):.1f} ms "
      f"(min {min(inits):.1f}); first invocation median {statistics.median(firsts):.2f} ms over {len(inits)} runs"
      + (f" ({failed} runs did not complete)" if failed else ""))
