"""The DNS-SD vectors the engine plugins browse with: current, about the daemon's service, and parseable by zeroconf."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from zeroconf import DNSIncoming

from yume_bridge.protocol.wire import SERVICE_TYPE

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def _generator():
    spec = importlib.util.spec_from_file_location("make_dnssd_vectors", VECTORS / "make_dnssd_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _document() -> dict:
    return json.loads((VECTORS / "dnssd.json").read_text("utf-8"))


def test_the_committed_dnssd_vectors_are_what_zeroconf_writes():
    for name, text in _generator().build().items():
        stale = f"{name} is stale: run protocol/vectors/make_dnssd_vectors.py"
        assert (VECTORS / name).read_text("utf-8") == text, stale


def test_the_vectors_browse_for_the_service_type_the_daemon_advertises():
    document = _document()
    assert document["service_type"] == SERVICE_TYPE
    browse = next(q for q in document["queries"] if q["name"] == "browse")
    assert browse["questions"] == [{"name": SERVICE_TYPE, "type": "PTR", "unicast_response": False}]


def test_every_response_vector_names_a_daemon_only_when_zeroconf_parses_one():
    for response in _document()["responses"]:
        incoming = DNSIncoming(bytes.fromhex(response["hex"]))
        assert incoming.valid and incoming.is_response()
        pointed_at = {r.alias.lower() for r in incoming.answers() if r.name.lower() == SERVICE_TYPE.lower()}
        assert {s["instance"].lower() for s in response["services"]} <= pointed_at, response["name"]


def test_the_invalid_vectors_are_rejected_by_zeroconf_too():
    for vector in _document()["invalid"]:
        assert not DNSIncoming(bytes.fromhex(vector["hex"])).valid, vector["name"]
