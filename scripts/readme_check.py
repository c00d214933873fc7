#!/usr/bin/env python3
"""The README's first command, run as written.

Takes the first command of README.md's "Two commands" block literally (never
retyped here), runs it through a shell from the repository's root, waits for
the stack's banner, runs every `curl` line the banner prints through one
shell (after the banner's `export` lines, so `$ID` from one line reaches the
next, as when a person pastes them), checks that each line's answer has the
status its `# expect NNN` comment states, then stops the stack (Ctrl-C to its
process group, then SIGKILL) and checks that nothing of it is left.

Fails when the README's command does not start the stack, when the banner
changes shape (no end line, a curl line without `# expect`), or when any
answer differs from what the banner promises: a README that drifts from
what works fails CI.

    scripts/readme_check.py [--readme PATH] [--banner-timeout SECONDS]

scripts/test_readme_check.py tests this script itself (a broken command, a
wrong status, a curl line without its expectation all fail it).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The last line of the banner (local/src/banner.rs): everything before it is
# the banner, and a banner without it has changed shape.
BANNER_END = "# Stop the stack with Ctrl-C."
EXPECT = re.compile(r"#\s*expect\s+(\d{3})\s*$")
# A status line of curl's --dump-header output.
STATUS_LINE = re.compile(r"^HTTP/[0-9.]+ (\d{3})")


class CheckFailed(Exception):
    """The README and what works have drifted apart; the message says how."""


def first_command(readme: str) -> str:
    """The first command line of the first ```sh block under "## Two commands"."""
    section = re.search(r"^## Two commands\s*$(.*?)(?=^## )", readme, re.M | re.S)
    if not section:
        raise CheckFailed('README has no "## Two commands" section')
    block = re.search(r"^```sh\s*$(.*?)^```\s*$", section.group(1), re.M | re.S)
    if not block:
        raise CheckFailed('"## Two commands" has no ```sh block')
    for line in block.group(1).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise CheckFailed('the "## Two commands" block has no command')


@dataclass
class Banner:
    exports: list[str]
    # (line as printed, expected status)
    curls: list[tuple[str, int]]


def parse_banner(lines: list[str]) -> Banner:
    """The exports and the curl lines, each with its expected status."""
    exports = [line for line in lines if line.startswith("export ")]
    curls = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#") or not re.search(r"\bcurl\s", stripped):
            continue
        m = EXPECT.search(stripped)
        if not m:
            raise CheckFailed(f"banner line without '# expect <status>': {stripped}")
        curls.append((stripped, int(m.group(1))))
    if not curls:
        raise CheckFailed("the banner printed no curl line")
    if not any(e.startswith("export API=") for e in exports):
        raise CheckFailed("the banner exports no API")
    return Banner(exports, curls)


def read_banner(proc: subprocess.Popen, timeout: float) -> list[str]:
    """Lines of the stack's stdout up to BANNER_END, or CheckFailed."""
    lines: list[str] = []
    done = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if line.strip() == BANNER_END:
                done.set()
                return
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.wait(0.5):
        # A child of the command may hold stdout open after the command
        # itself has exited: its exit is the end too.
        if proc.poll() is not None and not done.wait(1):
            break
        if time.monotonic() > deadline:
            raise CheckFailed(f"no banner within {timeout:.0f} s")
    if not lines or lines[-1].strip() != BANNER_END:
        raise CheckFailed(
            f"the command exited ({proc.poll()}) before the banner's last line "
            f"{BANNER_END!r}; it printed:\n" + "\n".join(lines)
        )
    return lines


def run_curls(banner: Banner, workdir: Path) -> list[str]:
    """Runs the curl lines in one shell; returns a list of failures."""
    # The lines run exactly as printed. A `curl` function records each
    # answer's status line in a file of its own (--dump-header, an option no
    # banner line uses) and bounds its time; it runs inside `$(...)` too.
    script = [
        "set -u",
        f"HDRS={workdir}",
        'curl() { command curl --max-time 20 "$@" --dump-header "$(mktemp "$HDRS/line$LINE.XXXXXX")"; }',
        *banner.exports,
    ]
    for i, (line, _) in enumerate(banner.curls):
        script += [f"LINE={i}", line]
    try:
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise CheckFailed(f"the curl lines took over {e.timeout:.0f} s") from None
    print(result.stdout, end="")
    failures = []
    for i, (line, expected) in enumerate(banner.curls):
        statuses = []
        for f in sorted(workdir.glob(f"line{i}.*")):
            codes = [m.group(1) for m in map(STATUS_LINE.match, f.read_text().splitlines()) if m]
            statuses.append(int(codes[-1]) if codes else None)
        if statuses and all(s == expected for s in statuses):
            print(f"ok   {expected}  {line}")
        else:
            got = statuses or "no answer"
            failures.append(f"expected {expected}, got {got}: {line}")
            print(f"FAIL {expected}  got {got}  {line}")
    if result.returncode != 0:
        failures.append(f"the shell running the curl lines exited {result.returncode}: {result.stderr}")
    return failures


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C to the command's process group (as a person stops it), SIGKILL
    to whatever of the group is left after 15 s; then no process of the
    group may remain."""
    pgid = proc.pid  # start_new_session: the command leads its own group
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            print(f"readme-check: the stack outlived signal {sig.name} for 15 s", file=sys.stderr)
    for _ in range(50):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise CheckFailed(f"processes of group {pgid} are still alive after SIGKILL")


def check(readme_path: Path, banner_timeout: float) -> None:
    command = first_command(readme_path.read_text())
    print(f"readme-check: the README's first command: {command}")
    started = time.monotonic()
    log = tempfile.NamedTemporaryFile("w+", prefix="readme-check-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
        # Ctrl-C as a terminal delivers it: a shell running this check in the
        # background hands its children SIGINT ignored, and an ignored signal
        # stays ignored across exec.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        try:
            lines = read_banner(proc, banner_timeout)
        except CheckFailed as e:
            log.seek(0)
            raise CheckFailed(f"{e}\n--- its stderr (last 40 lines):\n" + "".join(log.readlines()[-40:])) from None
        print(f"readme-check: banner after {time.monotonic() - started:.0f} s")
        banner = parse_banner(lines)
        with tempfile.TemporaryDirectory(prefix="readme-check-") as d:
            failures = run_curls(banner, Path(d))
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()
        os.unlink(log.name)
    if failures:
        raise CheckFailed("\n".join(failures))
    print(f"readme-check: {len(banner.curls)} curl lines answered as the banner says; stack stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--banner-timeout", type=float, default=1200.0,
                        help="seconds to wait for the banner, building included (default 1200)")
    args = parser.parse_args()
    for name, value in [("AWS_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")]:
        os.environ.setdefault(name, value)
    try:
        check(args.readme, args.banner_timeout)
    except CheckFailed as e:
        print(f"readme-check: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
