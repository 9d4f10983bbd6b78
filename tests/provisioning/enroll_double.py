"""A local HTTP double of the fleet's enrollment endpoint (the contract of issue 4).

It answers `POST /api/v1/enroll` like the fleet does (idempotent per token, serial and key;
the contract's error codes) with broker credentials it also writes to a Mosquitto password
file, so tests of the technician side run without the fleet's enrollment service.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SIGNING_KEY = {"kid": "test-1", "ed25519_b64": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}


@dataclass
class EnrollDouble:
    """The endpoint, its claims and what it answered."""

    broker_url: str
    password_file: Path | None = None
    """When set, each enrolled device's password is added here (mosquitto_passwd)."""
    tokens: dict[str, str] = field(default_factory=lambda: {"good-token": "valid"})
    """token -> valid / expired / exhausted / revoked."""
    initial_config: Callable[[str], dict[str, Any]] = lambda device_id: {
        "device_id": device_id,
        "uplink": {"batch_interval": "1s"},
    }
    ca_cert_pem: str | None = None
    scripted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """Answers to give before the real ones (status, body), e.g. a 503."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    reload_broker: Callable[[], None] | None = None
    _enrolled: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:port in a thread; returns the base URL."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = double.handle(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The answer to one request."""
        self.requests.append(body)
        if path != "/api/v1/enroll":
            return 404, {"error": "not_found", "detail": path}
        if self.scripted:
            return self.scripted.pop(0)
        state = self.tokens.get(body.get("claim_token", ""))
        if state is None:
            return 401, {"error": "claim_unknown", "detail": "no such claim token"}
        if state != "valid":
            return 403, {"error": f"claim_{state}", "detail": f"the claim is {state}"}
        serial, key = body["serial"], body["public_key"]
        if not key.startswith("-----BEGIN PUBLIC KEY-----"):
            return 400, {"error": "bad_key", "detail": "not a PEM public key"}
        if serial in self._enrolled:
            known_key, bundle = self._enrolled[serial]
            if known_key != key:
                return 409, {"error": "serial_taken", "detail": f"{serial} has another key"}
            return 200, bundle
        device_id = f"pole-{body['pole']['pole_id'].lower()}"
        password = f"pw-{len(self._enrolled)}-{serial[-6:]}-secret"
        bundle = {
            "device_id": device_id,
            "broker_urls": [self.broker_url],
            "mqtt_username": device_id,
            "mqtt_password": password,
            "ca_cert_pem": self.ca_cert_pem,
            "config_signing_public_key": SIGNING_KEY,
            "initial_config": self.initial_config(device_id),
            "fleet_url": "http://fleet.invalid",
        }
        if self.password_file is not None:
            subprocess.run(
                ["mosquitto_passwd", "-b", str(self.password_file), device_id, password],
                check=True,
                capture_output=True,
            )
            if self.reload_broker is not None:
                self.reload_broker()
        self._enrolled[serial] = (key, bundle)
        return 200, bundle
