"""coturn in a lab namespace, as a clinic would run it beside Hearth, and the ICE servers that reach it.

Credentials follow coturn's REST-API scheme (``use-auth-secret``): coturn holds a shared secret and
accepts any username of the form ``<expiry>:<id>`` whose password is base64(HMAC-SHA1(secret,
username)), until the expiry. That is what a clinic should run (nothing long-lived to leak, no user
list to keep), with the caveat that Hearth today hands every client the one credential given in
``--ice-servers``, minted by the operator (see docs/turn.md). TLS uses a certificate made for the run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.net.lab import Lab

PORT = 3478  # TURN over UDP and TCP
TLS_PORT = 5349  # TURN over TLS
REALM = "hearth.lab"


def mint(secret: str, name: str, ttl: float) -> tuple[str, str]:
    """A REST-API credential: username ``<expiry>:<name>`` and its HMAC-SHA1 password."""
    username = f"{int(time.time() + ttl)}:{name}"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password


def self_signed(directory: Path, address: str) -> tuple[Path, Path]:
    """A certificate for ``address`` (as an IP subject alternative name) and its key, valid one day."""
    cert, key = directory / "turn-cert.pem", directory / "turn-key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={address}"]
    names = ["-addext", f"subjectAltName=IP:{address}", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *names], check=True, capture_output=True)
    return cert, key


@dataclass
class Turn:
    """A running coturn: its address, its shared secret and its certificate."""

    address: str
    secret: str
    cert: Path
    process: subprocess.Popen[bytes]
    log: Path

    def ice_server(self, transport: str, ttl: float = 3600) -> dict[str, Any]:
        """One RTCIceServer for ``transport`` ("udp", "tcp" or "tls"), with a credential minted now."""
        username, credential = mint(self.secret, "hearth", ttl)
        url = {
            "udp": f"turn:{self.address}:{PORT}?transport=udp",
            "tcp": f"turn:{self.address}:{PORT}?transport=tcp",
            "tls": f"turns:{self.address}:{TLS_PORT}?transport=tcp",
        }[transport]
        return {"urls": [url], "username": username, "credential": credential}

    def endpoint(self, transport: str) -> str:
        """The "address:port" a member's firewall must let through for ``transport``."""
        return f"{self.address}:{TLS_PORT if transport == 'tls' else PORT}"

    def spki(self) -> str:
        """base64 SHA-256 of the certificate's public key: what ``--ignore-certificate-errors-spki-list`` takes."""
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-noout", "-pubkey"], check=True, capture_output=True
        ).stdout
        key = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "der"], input=der, check=True, capture_output=True
        )
        return base64.b64encode(hashlib.sha256(key.stdout).digest()).decode()

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_turn(lab: Lab, role: str, relays_to: str) -> Turn:
    """coturn in ``role``'s namespace, listening and relaying on that role's address only, and relaying
    to ``relays_to`` (Hearth's address) only, as docs/turn.md advises."""
    binary = shutil.which("turnserver")
    if binary is None:
        raise AssertionError("turnserver is missing: apt-get install -y coturn")
    address, secret = lab.address(role), secrets.token_urlsafe(24)
    cert, key = self_signed(lab.dir, address)
    log = lab.dir / "turnserver.log"
    args = [
        binary,
        "-n",  # no configuration file: everything is on this line
        f"--listening-ip={address}",
        f"--relay-ip={address}",
        f"--listening-port={PORT}",
        f"--tls-listening-port={TLS_PORT}",
        f"--realm={REALM}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--cert={cert}",
        f"--pkey={key}",
        "--fingerprint",
        "--no-cli",
        "--no-multicast-peers",
        "--denied-peer-ip=0.0.0.0-255.255.255.255",
        f"--allowed-peer-ip={relays_to}",
        "--no-dtls",
        "--simple-log",
        f"--log-file={log}",
        f"--pidfile={lab.dir / 'turnserver.pid'}",
    ]
    process = lab.popen(role, args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    turn = Turn(address, secret, cert, process, log)
    _wait_listening(lab, role, turn)
    return turn


def _wait_listening(lab: Lab, role: str, turn: Turn, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if turn.process.poll() is not None:
            raise RuntimeError(f"turnserver exited with {turn.process.returncode}:\n{turn.logs()}")
        listening = subprocess.run(lab.command(role, "ss", "-Htln"), capture_output=True, text=True).stdout
        if f"{turn.address}:{TLS_PORT}" in listening and f"{turn.address}:{PORT}" in listening:
            return
        time.sleep(0.1)
    raise RuntimeError(f"turnserver did not listen within {timeout} s:\n{turn.logs()}")
