"""detect-secrets plugin: this product's partner API keys.

A partner key is pk_<id>_<secret>: <id> 12 characters [a-z0-9], <secret> 40
characters [A-Za-z0-9] whose last 6 are the CRC-32 (IEEE) of everything
before them (pk_<id>_<34 chars>) written as 6 base-62 digits (0-9A-Za-z, most
significant first, zero-padded); /work/shared/DESIGN.md "Credentials" and
authorizer/src/apikey/format.rs. Only a candidate whose checksum is right is
reported, so a made-up or mistyped string of the same shape is not a finding.

Use: detect-secrets scan --plugin scripts/secret-scan/partner_key.py [paths]
(scripts/secret-scan.sh runs it with only this plugin). A deliberate fixture
key is marked on its line with `pragma: allowlist secret`, which
detect-secrets honours, and so does `partner-keys scan`.
"""
import re
import zlib

from detect_secrets.plugins.base import RegexBasedDetector

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def checksum(body):
    n = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(6):
        n, d = divmod(n, 62)
        digits.append(BASE62[d])
    return "".join(reversed(digits))


def is_partner_key(candidate):
    return checksum(candidate[:-6]) == candidate[-6:]


class PartnerKeyDetector(RegexBasedDetector):
    """Partner API keys (pk_) with a right CRC-32 checksum."""

    secret_type = "Partner API key (pk_)"

    # Delimited by anything but [A-Za-z0-9_], as `partner-keys scan` does.
    denylist = (
        re.compile(r"(?<![A-Za-z0-9_])(pk_[a-z0-9]{12}_[A-Za-z0-9]{40})(?![A-Za-z0-9_])"),
    )

    def analyze_string(self, string):
        for candidate in super().analyze_string(string):
            if is_partner_key(candidate):
                yield candidate
