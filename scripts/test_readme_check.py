#!/usr/bin/env python3
"""Tests of scripts/readme_check.py: it must fail when the README drifts.

A stand-in stack (a few lines of Python printing a banner like
local/src/banner.rs and answering one fixed status) keeps these fast; the
real README and the real stack are the check itself, in scripts/test.sh.

    python3 scripts/test_readme_check.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme_check  # noqa: E402
from readme_check import BANNER_END, CheckFailed  # noqa: E402

# Answers every GET with STATUS, prints a banner whose curl line expects
# EXPECTED, starts a child that must not outlive the check, serves until
# Ctrl-C.
FAKE_STACK = textwrap.dedent(
    """
    import http.server, subprocess, sys
    status, expected, end = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "end"
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status); self.send_header("Content-Length", "0"); self.end_headers()
        def log_message(self, *a): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), H)
    child = subprocess.Popen(["sleep", "300"])
    with open(sys.argv[4], "w") as f:
        f.write(str(child.pid))
    print(f"export API=http://127.0.0.1:{server.server_port}")
    print(f'curl -s "$API/items"; echo  # expect {expected}')
    if end:
        print(%r, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    """
    % BANNER_END
)


def readme_with(command: str) -> str:
    return f"# x\n\n## Two commands\n\n```sh\n# 1. the stack\n{command}\n\n# 2. the tests\nscripts/test.sh\n```\n\n## Next\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


class ReadmeCheck(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="readme-check-test-"))
        (self.dir / "fake_stack.py").write_text(FAKE_STACK)
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def run_fake(self, status: int, expected: str, end: bool = True) -> None:
        pidfile = self.dir / "child.pid"
        readme = self.dir / "README.md"
        readme.write_text(readme_with(
            f"python3 {self.dir / 'fake_stack.py'} {status} {expected} {'end' if end else 'noend'} {pidfile}"
        ))
        try:
            readme_check.check(readme, banner_timeout=30)
        finally:
            if pidfile.exists():
                child = int(pidfile.read_text())
                self.assertFalse(alive(child), "the stack's child outlived the check")

    def test_the_first_command_is_taken_from_the_readme_as_written(self) -> None:
        self.assertEqual(readme_check.first_command(readme_with("cargo run -p x -- --y 'z'")), "cargo run -p x -- --y 'z'")
        real = (readme_check.ROOT / "README.md").read_text()
        self.assertTrue(readme_check.first_command(real).startswith("cargo run"))

    def test_a_readme_without_its_two_commands_fails(self) -> None:
        with self.assertRaises(CheckFailed):
            readme_check.first_command("# x\n\n## Quick start\n\n```sh\ncargo run\n```\n")

    def test_answers_with_the_promised_status_pass_and_nothing_is_left_running(self) -> None:
        self.run_fake(200, "200")
        self.run_fake(403, "403")

    def test_an_answer_with_another_status_fails(self) -> None:
        with self.assertRaisesRegex(CheckFailed, "expected 200, got \\[404\\]"):
            self.run_fake(404, "200")

    def test_a_curl_line_without_its_expectation_fails(self) -> None:
        with self.assertRaisesRegex(CheckFailed, "without '# expect"):
            self.run_fake(200, "soon")

    def test_a_banner_without_its_end_line_fails(self) -> None:
        with self.assertRaisesRegex(CheckFailed, "exited"):
            self.run_fake(200, "200", end=False)

    def test_a_broken_first_command_fails(self) -> None:
        # The real README with its first command drifted to a binary that
        # does not exist: cargo refuses it in a second.
        real = (readme_check.ROOT / "README.md").read_text()
        command = readme_check.first_command(real)
        drifted = self.dir / "README.md"
        drifted.write_text(real.replace(command, "cargo run --bin no-such-binary", 1))
        with self.assertRaisesRegex(CheckFailed, "exited"):
            readme_check.check(drifted, banner_timeout=120)


if __name__ == "__main__":
    unittest.main(verbosity=2)
