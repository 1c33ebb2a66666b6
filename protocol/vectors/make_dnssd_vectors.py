"""Writes protocol/vectors/dnssd.json: DNS-SD (mDNS) packets for browsing `_yume-bridge._udp.local.`.

The packets are built and parsed by python-zeroconf's own ``DNSOutgoing``/``DNSIncoming`` classes, the library
the daemon advertises with, so the engine plugins' small DNS-SD codecs are checked against an independent
implementation. Each response lists the records zeroconf parsed from it and the services a browser should
report (instance, host, port, addresses, TXT properties), all derived from zeroconf's parse, not from the inputs.

Run ``python protocol/vectors/make_dnssd_vectors.py`` after a change; the test suite fails while the committed
file differs from what this script writes.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

from zeroconf import (
    DNSAddress,
    DNSIncoming,
    DNSOutgoing,
    DNSPointer,
    DNSQuestion,
    DNSRecord,
    DNSService,
    DNSText,
    ServiceInfo,
    const,
)

from yume_bridge.daemon.discovery import Load
from yume_bridge.protocol.wire import SERVICE_TYPE

HERE = Path(__file__).parent
MDNS_ADDRESS = "224.0.0.251"
MDNS_PORT = 5353
TYPE_NAMES = {const._TYPE_A: "A", const._TYPE_PTR: "PTR", const._TYPE_TXT: "TXT", const._TYPE_AAAA: "AAAA",
              const._TYPE_SRV: "SRV", const._TYPE_NSEC: "NSEC"}
# What the daemon puts in its TXT record (yume_bridge/daemon/discovery.py), with example values; the load keys
# come from the daemon's own Load.properties().
DAEMON_PROPERTIES = {"protocol": "1", "version": "0.1.0", "backend": "preview", "model": "preview",
                     "width": "960", "height": "544", "fps": "16", "token": "none",
                     **Load(devices=1, sessions=1, max_sessions=4, fps=16.0).properties()}


def _daemon(instance: str, host: str, port: int, addresses: list[str], properties: dict | None = None) -> ServiceInfo:
    packed = [socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses]
    return ServiceInfo(SERVICE_TYPE, f"{instance}.{SERVICE_TYPE}", port=port, addresses=packed, server=host,
                       properties=DAEMON_PROPERTIES if properties is None else properties)


def _query(*questions: tuple[str, int, bool], known: list[DNSRecord] = ()) -> bytes:
    out = DNSOutgoing(const._FLAGS_QR_QUERY)
    for name, type_, unicast in questions:
        question = DNSQuestion(name, type_, const._CLASS_IN)
        question.unicast = unicast
        out.add_question(question)
    for record in known:
        out.add_answer_at_time(record, 0)
    (packet,) = out.packets()
    return packet


def _response(answers: list[DNSRecord], additionals: list[DNSRecord] = ()) -> bytes:
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    for record in answers:
        out.add_answer_at_time(record, 0)  # now=0 writes each record's own TTL: the output is deterministic
    for record in additionals:
        out.add_additional_answer(record)
    (packet,) = out.packets()
    return packet


def _announcement(info: ServiceInfo) -> tuple[list[DNSRecord], list[DNSRecord]]:
    """How a responder answers a PTR query: the pointer, then SRV, TXT and addresses as additional records."""
    return [info.dns_pointer()], [info.dns_service(), info.dns_text(), *info.dns_addresses()]


def _record(record: DNSRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": record.name, "type": TYPE_NAMES.get(record.type, record.type),
                              "cache_flush": record.unique, "ttl": record.ttl}
    if isinstance(record, DNSPointer):
        fields["target"] = record.alias
    elif isinstance(record, DNSService):
        fields.update(priority=record.priority, weight=record.weight, port=record.port, target=record.server)
    elif isinstance(record, DNSText):
        fields["strings"] = _txt_strings(record.text)
    elif isinstance(record, DNSAddress):
        family = socket.AF_INET6 if record.type == const._TYPE_AAAA else socket.AF_INET
        fields["address"] = socket.inet_ntop(family, record.address)
    return fields


def _txt_strings(text: bytes) -> list[str]:
    strings, at = [], 0
    while at < len(text):
        length = text[at]
        strings.append(text[at + 1:at + 1 + length].decode("utf-8"))
        at += 1 + length
    return strings


def _properties(strings: list[str]) -> list[list[str | None]]:
    """RFC 6763 §6: `key=value`, a bare `key` (no value), the first occurrence of a key wins; keys ignore case."""
    seen, pairs = set(), []
    for entry in strings:
        key, has_value, value = entry.partition("=")
        if not key or key.lower() in seen:
            continue
        seen.add(key.lower())
        pairs.append([key, value if has_value else None])
    return pairs


def _services(records: list[DNSRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """What a browser of SERVICE_TYPE reports from one packet: resolved services, and instances said goodbye."""
    key = str.lower
    pointers = [r for r in records if isinstance(r, DNSPointer) and key(r.name) == key(SERVICE_TYPE)]
    found, removed = [], []
    for pointer in pointers:
        if pointer.ttl == 0:
            removed.append(pointer.alias)
            continue
        service = next((r for r in records if isinstance(r, DNSService) and key(r.name) == key(pointer.alias)), None)
        if service is None:
            continue
        text = next((r for r in records if isinstance(r, DNSText) and key(r.name) == key(pointer.alias)), None)
        addresses = [_record(r)["address"] for r in records
                     if isinstance(r, DNSAddress) and key(r.name) == key(service.server) and r.ttl > 0]
        found.append({"instance": pointer.alias, "host": service.server, "port": service.port,
                      "addresses": addresses, "properties": _properties(_txt_strings(text.text)) if text else []})
    return found, removed


def _parsed(packet: bytes) -> dict[str, Any]:
    incoming = DNSIncoming(packet)
    assert incoming.valid, "zeroconf could not parse a packet meant to be valid"
    records = incoming.answers()
    found, removed = _services(records) if incoming.is_response() else ([], [])
    return {"hex": packet.hex(), "is_response": incoming.is_response(),
            "questions": [{"name": q.name, "type": TYPE_NAMES.get(q.type, q.type), "unicast_response": q.unicast}
                          for q in incoming.questions],
            "records": [_record(r) for r in records], "services": found, "removed": removed}


def queries() -> list[dict[str, Any]]:
    known = _daemon("studio-47800", "studio.local.", 47800, ["192.168.1.20"]).dns_pointer()
    cases = [
        ("browse", "what a browser sends: one PTR question for the service type, multicast answer wanted",
         _query((SERVICE_TYPE, const._TYPE_PTR, False))),
        ("browse_unicast_response", "the first query of a browse may ask for a unicast answer (QU bit, RFC 6762 §5.4)",
         _query((SERVICE_TYPE, const._TYPE_PTR, True))),
        ("browse_with_known_answer", "a repeated query lists what it already knows (known-answer suppression)",
         _query((SERVICE_TYPE, const._TYPE_PTR, False), known=[known])),
        ("resolve", "a query for one instance's SRV and TXT and its host's address",
         _query(("studio-47800." + SERVICE_TYPE, const._TYPE_SRV, False),
                ("studio-47800." + SERVICE_TYPE, const._TYPE_TXT, False),
                ("studio.local.", const._TYPE_A, False))),
    ]
    return [{"name": name, "description": description, **_parsed(packet)} for name, description, packet in cases]


def responses() -> list[dict[str, Any]]:
    studio = _daemon("studio-47800", "studio.local.", 47800, ["192.168.1.20"])
    loopback = _daemon("ci-box-47801", "ci-box.local.", 47801, ["127.0.0.1"],
                       {**DAEMON_PROPERTIES, "token": "required",
                        **Load(devices=2, sessions=4, max_sessions=4, fps=32.0).properties()})
    dual = _daemon("render-node-47800", "render-node.local.", 47800, ["10.0.0.7", "fe80::1"])
    bare = _daemon("bare-47800", "bare.local.", 47800, ["10.0.0.8"], {"protocol": "1", "debug": None, "": "x"})
    other = ServiceInfo("_http._tcp.local.", "printer._http._tcp.local.", port=80, server="printer.local.",
                        addresses=[socket.inet_aton("10.0.0.9")], properties={"path": "/"})
    pointer, extra = _announcement(studio)
    no_address = [r for r in extra if not isinstance(r, DNSAddress)]
    cases = [
        ("answer_to_browse", "a daemon answers a browse: PTR answer, SRV/TXT/A as additional records, names compressed",
         _response(*_announcement(studio))),
        ("announcement_on_loopback", "a daemon's unsolicited announcement: every record in the answer section",
         _response([*_announcement(loopback)[0], *_announcement(loopback)[1]])),
        ("two_daemons", "one packet with two daemons, one of them with an IPv4 and an IPv6 address",
         _response([studio.dns_pointer(), dual.dns_pointer()],
                   [*_announcement(studio)[1], *_announcement(dual)[1]])),
        ("txt_edge_cases", "TXT with a bare key (no '=') and an empty key, which a browser ignores",
         _response(*_announcement(bare))),
        ("srv_without_address", "SRV and TXT without the host's address: found, but not yet reachable",
         _response(pointer, no_address)),
        ("names_differ_in_case", "DNS names compare case-insensitively (RFC 1035 §2.3.3)",
         _response([DNSPointer("_Yume-Bridge._UDP.local.", const._TYPE_PTR, const._CLASS_IN, 4500,
                               "Studio-47800._yume-bridge._udp.local.")],
                   [DNSService("studio-47800._YUME-BRIDGE._udp.local.", const._TYPE_SRV,
                               const._CLASS_IN | const._CLASS_UNIQUE, 120, 0, 0, 47800, "STUDIO.local."),
                    DNSAddress("studio.local.", const._TYPE_A, const._CLASS_IN | const._CLASS_UNIQUE, 120,
                               socket.inet_aton("192.168.1.20"))])),
        ("goodbye", "a daemon leaving: its PTR with TTL 0 (RFC 6762 §10.1)",
         _response([DNSPointer(SERVICE_TYPE, const._TYPE_PTR, const._CLASS_IN, 0, studio.name)])),
        ("other_service", "an answer about another service type: nothing to report",
         _response(*_announcement(other))),
        ("address_only", "a lone A record: nothing to report without a PTR and SRV",
         _response(studio.dns_addresses())),
    ]
    return [{"name": name, "description": description, **_parsed(packet)} for name, description, packet in cases]


def invalid() -> list[dict[str, Any]]:
    good = bytes.fromhex(responses()[0]["hex"])
    header = bytes.fromhex("000084000000000100000000")
    cases = [
        ("empty", "no header", b""),
        ("short_header", "eleven bytes of a twelve-byte header", good[:11]),
        ("truncated_in_name", "the packet ends inside the first name", good[:20]),
        ("truncated_in_last_record", "the packet ends inside the last record", good[:-6]),
        ("pointer_loop", "a compression pointer that points at itself",
         header + b"\xc0\x0c" + b"\x00\x0c\x00\x01\x00\x00\x11\x94\x00\x02\xc0\x0c"),
        ("label_past_end", "a label length running past the end of the packet", header + b"\x3f_yume"),
        ("answer_count_lies", "the header promises more answers than the packet holds",
         good[:7] + bytes([good[7] + 3]) + good[8:]),
    ]
    rejected = []
    for name, description, packet in cases:
        assert not DNSIncoming(packet).valid, f"zeroconf accepts {name}: not an invalid vector"
        rejected.append({"name": name, "description": description, "hex": packet.hex()})
    return rejected


def build() -> dict[str, str]:
    document = {
        "description": "DNS-SD over mDNS for daemon discovery; packets built and parsed by python-zeroconf. "
                       "'services' is what a browser of service_type reports from one packet; TXT properties are "
                       "[key, value] pairs in packet order (value null for a bare key; later duplicates and empty "
                       "keys dropped). Names compare case-insensitively.",
        "service_type": SERVICE_TYPE,
        "mdns_address": MDNS_ADDRESS,
        "mdns_port": MDNS_PORT,
        "queries": queries(),
        "responses": responses(),
        "invalid": invalid(),
    }
    return {"dnssd.json": json.dumps(document, indent=1, ensure_ascii=False) + "\n"}


def main() -> int:
    for name, text in build().items():
        (HERE / name).write_text(text, "utf-8")
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
