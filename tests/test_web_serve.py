"""``crabplus serve`` sends nothing off the machine: under a socket guard that refuses every connection and
name lookup except to this machine's loopback, the server starts, answers its own page and stops. Gradio
looked up its own and the Hub's hosts at start-up (a version check and analytics) before this guard held.

Integration tier (starts the web server); skipped without the web extra (``bash scripts/setup.sh web``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.request

import pytest

pytestmark = pytest.mark.integration
gr = pytest.importorskip("gradio", reason="needs the web extra (bash scripts/setup.sh web)")

from crabplus.cli.main import main  # noqa: E402

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def _loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):  # an AF_UNIX path and the like never leave the machine
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or host == "0.0.0.0"
    except ValueError:
        return host in LOCAL_NAMES


@pytest.fixture
def loopback_only(monkeypatch):
    """Every connection or lookup of another host is recorded and refused."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(real, what):
        def call(*args, **kwargs):
            target = args[1] if what != "getaddrinfo" else args[0]
            if not _loopback(target):
                attempts.append(f"{what} {target!r}")
                raise OSError(f"network access refused by the test: {what} {target!r}")
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(socket.socket, "connect", guard(connect, "connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(connect_ex, "connect_ex"))
    monkeypatch.setattr(socket, "getaddrinfo", guard(getaddrinfo, "getaddrinfo"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)  # the command's own settings, not the test's, must hold
    return attempts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_makes_no_connection_off_the_machine(tmp_path, loopback_only):
    import torch
    from helpers.model import tiny_model_config, tiny_tokenizer

    from crabplus.model import attach_adapter, build_thinker, save_checkpoint

    tok, cfg = tiny_tokenizer(), tiny_model_config()
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "model", attach_adapter(build_thinker(cfg, tok), cfg), tok, cfg)
    port = _free_port()
    codes: list[int] = []
    server = threading.Thread(
        target=lambda: codes.append(main(["serve", "--checkpoint", str(tmp_path / "model"), "--port", str(port)])),
        daemon=True,
    )
    server.start()
    deadline, page = time.monotonic() + 120, None
    while time.monotonic() < deadline and page is None and server.is_alive():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                page = resp.read()
        except OSError:
            time.sleep(0.5)
    time.sleep(2.0)  # gradio's start-up threads (version check, analytics) run within this
    gr.close_all()
    server.join(timeout=30)
    assert page is not None and b"<html" in page.lower(), f"the server did not answer ({codes})"
    assert codes == [0]
    assert loopback_only == [], loopback_only
