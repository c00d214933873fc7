#!/usr/bin/env python3
"""Every shell block of docs/PARTNER-KEYS.md and docs/PARTNERS.md, run as written.

Each page's ```sh blocks run in order in one bash (`set -euo pipefail`), from
a scratch directory, with the variables the page's "Before you start" list
tells the reader to set, and nothing else of the page's own:

- docs/PARTNER-KEYS.md (the operator) against moto server: a registry as the
  stack creates it (`{"keys":[]}`), the two tiers' usage plans tagged as
  template.yaml tags them, and a CloudFormation stack whose outputs
  `PartnerUsagePlanStandard`/`Premium` name them. moto does not implement
  API Gateway's GetUsage (404), so API Gateway calls go through a stand-in
  that forwards everything to moto and answers GetUsage itself in its
  documented shape (no request counted, the plan's quota left).
- docs/PARTNERS.md (the partner) against the local stack (`local`), reading
  that registry from moto (`--api-keys-secret-id`), with a key made by
  `partner-keys create`, from a scratch git repository (what a partner scans).

A block that fails fails the page, and so does a `status ... # NNN` line whose
answer is not NNN. The set of variables a page lists must be exactly the set
this runner provides, so a page that starts needing another cannot pass.

Run under scripts/with-moto.sh with .venv's python, after a workspace build:
  scripts/with-moto.sh .venv/bin/python scripts/doc-blocks.py
"""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANNER_END = "# Stop the stack with Ctrl-C."


class Failed(Exception):
    pass


def blocks(page):
    text = open(os.path.join(ROOT, page)).read()
    return text, re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S)


def listed_variables(text):
    section = re.search(r"^#+ Before you start\s*$(.*?)(?=^#+ )", text, re.M | re.S)
    if not section:
        raise Failed("no 'Before you start' section")
    return set(re.findall(r"^- `([A-Z_][A-Z0-9_]*)`:", section.group(1), re.M))


def expected_statuses(block):
    return [m.group(1) for line in block.splitlines()
            if line.startswith("status ") and (m := re.search(r"#\s*(\d{3})\b", line))]


def run_page(page, variables, cwd, extra_env):
    text, found = blocks(page)
    listed = listed_variables(text)
    if listed != set(variables):
        raise Failed(f"{page}: lists {sorted(listed)}, the runner provides {sorted(variables)}")
    if not found:
        raise Failed(f"{page}: no ```sh block")
    env = dict(os.environ, **extra_env, **variables)
    # One shell for the whole page: a variable or function of one block
    # reaches the next, as when a reader pastes them in order.
    script = ["set -euo pipefail"]
    for i, block in enumerate(found, 1):
        script.append(f"echo '--- block {i}' >&2")
        script.append(block)
        # On a line of its own, whatever the block's last output lacked.
        script.append(f"echo; echo '=== end of block {i}'")
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        last = re.findall(r"--- block (\d+)", proc.stderr)
        raise Failed(f"{page}: block {last[-1] if last else '?'} failed ({proc.returncode}):\n"
                     f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    outputs = re.split(r"^=== end of block \d+\n", proc.stdout, flags=re.M)
    for i, block in enumerate(found):
        want = expected_statuses(block)
        if want:
            got = re.findall(r"^(\d{3})$", outputs[i], re.M)
            if got != want:
                raise Failed(f"{page}: block {i + 1} answered {got}, the page says {want}")
    print(f"doc-blocks: {page}: {len(found)} blocks ran as written")


class GetUsageStandIn(http.server.BaseHTTPRequestHandler):
    """API Gateway for the operator page: moto, plus GetUsage."""
    moto = None

    def log_message(self, *args):
        pass

    def _handle(self):
        path = urllib.parse.urlparse(self.path)
        m = re.fullmatch(r"/usageplans/([^/]+)/usage", path.path)
        if self.command == "GET" and m:
            query = urllib.parse.parse_qs(path.query)
            plan = boto3.client("apigateway", endpoint_url=self.moto).get_usage_plan(
                usagePlanId=m.group(1))
            limit = plan.get("quota", {}).get("limit", 0)
            key = query.get("keyId", [""])[0]
            body = json.dumps({"usagePlanId": m.group(1), "startDate": query["startDate"][0],
                               "endDate": query["endDate"][0], "items": {key: [[0, limit]]}})
            return self._answer(200, {"Content-Type": "application/json"}, body.encode())
        length = int(self.headers.get("Content-Length") or 0)
        request = urllib.request.Request(self.moto + self.path, method=self.command,
                                         data=self.rfile.read(length) if length else None,
                                         headers={k: v for k, v in self.headers.items()
                                                  if k.lower() != "host"})
        try:
            with urllib.request.urlopen(request) as r:
                self._answer(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            self._answer(e.code, dict(e.headers), e.read())

    def _answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def operator_fixture(moto):
    """What a deployed stack gives the operator: registry, tiers, outputs."""
    suffix = str(time.time_ns())
    secret = f"docs-registry-{suffix}"
    boto3.client("secretsmanager").create_secret(Name=secret, SecretString='{"keys":[]}')
    api = boto3.client("apigateway")
    plans = {}
    for tier, (rate, burst, limit) in {"standard": (10, 20, 100000),
                                       "premium": (50, 100, 1000000)}.items():
        plans[tier] = api.create_usage_plan(
            name=f"docs-partners-{tier}-{suffix}", tags={"partner-tier": tier},
            throttle={"rateLimit": rate, "burstLimit": burst},
            quota={"limit": limit, "period": "MONTH"})["id"]
    stack = f"docs-items-api-{suffix}"
    template = {
        "Parameters": {"Standard": {"Type": "String"}, "Premium": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"PartnerUsagePlanStandard": {"Value": {"Ref": "Standard"}},
                    "PartnerUsagePlanPremium": {"Value": {"Ref": "Premium"}}},
    }
    boto3.client("cloudformation").create_stack(
        StackName=stack, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Standard", "ParameterValue": plans["standard"]},
                    {"ParameterKey": "Premium", "ParameterValue": plans["premium"]}])
    return secret, stack


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local(bin_dir, secret):
    """The local stack reading the registry from moto; its URL from the banner."""
    proc = subprocess.Popen([os.path.join(bin_dir, "local"), "--addr", f"127.0.0.1:{free_port()}",
                             "--api-keys-secret-id", secret],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 60
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == BANNER_END or time.time() > deadline:
            break
    url = next((l.split("=", 1)[1].strip() for l in lines if l.startswith("export API=")), None)
    if not url:
        proc.kill()
        raise Failed("the local stack printed no URL:\n" + "".join(lines))
    # Keep draining its output so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url


def main():
    moto = os.environ.get("AWS_ENDPOINT_URL", "")
    if not moto.startswith("http://127.0.0.1"):
        sys.exit("doc-blocks: run under scripts/with-moto.sh")
    target = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                       cwd=ROOT, capture_output=True, check=True,
                                       text=True).stdout)["target_directory"]
    bin_dir = os.path.join(target, "debug")
    subprocess.run(["cargo", "build", "-q", "--workspace", "--bins"], cwd=ROOT, check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "tools.sh"), "secrets"], check=True)
    path = os.pathsep.join([bin_dir, os.path.join(ROOT, ".venv-secrets", "bin"), os.environ["PATH"]])

    GetUsageStandIn.moto = moto
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GetUsageStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    apigw = f"http://127.0.0.1:{server.server_address[1]}"

    work = tempfile.mkdtemp(prefix="doc-blocks-")
    local = None
    try:
        secret, stack = operator_fixture(moto)
        operator = os.path.join(work, "operator")
        os.makedirs(operator)
        run_page("docs/PARTNER-KEYS.md", {"API_KEYS_SECRET_ID": secret, "STACK_NAME": stack},
                 operator, {"PATH": path, "AWS_ENDPOINT_URL_API_GATEWAY": apigw})

        # The partner: a key from the operator's command, the stack reading
        # the same registry, a repository of the partner's to scan.
        key = subprocess.run(
            ["partner-keys", "--secret-id", secret, "create", "--partner", "docs-partner",
             "--permission", "items:read", "--permission", "items:write",
             "--tier", "standard", "--stack", stack],
            env=dict(os.environ, PATH=path), capture_output=True, text=True, check=True).stdout.strip()
        local, url = start_local(bin_dir, secret)
        partner = os.path.join(work, "partner")
        os.makedirs(partner)
        shutil.copy(os.path.join(ROOT, "scripts", "secret-scan", "partner_key.py"), partner)
        for args in (["init", "-q"], ["add", "."],
                     ["-c", "user.name=docs", "-c", "user.email=docs@example.com",
                      "commit", "-qm", "a partner's repository"]):
            subprocess.run(["git", *args], cwd=partner, check=True)
        run_page("docs/PARTNERS.md", {"API_URL": url, "PARTNER_KEY": key}, partner, {"PATH": path})
    except Failed as e:
        sys.exit(f"doc-blocks: FAILED: {e}")
    finally:
        if local:
            local.terminate()
            local.wait(timeout=10)
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print("doc-blocks: ok")


if __name__ == "__main__":
    main()
