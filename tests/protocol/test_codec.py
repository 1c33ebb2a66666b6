"""The codec against the canonical vectors, in both encodings."""

from __future__ import annotations

import json

import pytest

from tests.conftest import VECTORS
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.messages import to_fields
from yume_bridge.protocol.wire import Encoding

MESSAGES = json.loads((VECTORS / "messages.json").read_text("utf-8"))["messages"]
INVALID = json.loads((VECTORS / "invalid.json").read_text("utf-8"))["datagrams"]
REVISION_1_1 = json.loads((VECTORS / "revision_1_1.json").read_text("utf-8"))


def _plain(value):
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("vector", MESSAGES, ids=[v["name"] for v in MESSAGES])
@pytest.mark.parametrize("form", ["json", "msgpack"])
def test_every_vector_decodes_to_its_value(vector, form):
    data = vector["json"].encode("utf-8") if form == "json" else bytes.fromhex(vector["msgpack"])
    decoded = decode(data)
    assert decoded.message.TYPE == vector["type"]
    assert _plain({"type": decoded.message.TYPE, **to_fields(decoded.message)}) == vector["value"]
    assert decoded.encoding is Encoding(form)


@pytest.mark.parametrize("vector", MESSAGES, ids=[v["name"] for v in MESSAGES])
@pytest.mark.parametrize("encoding", list(Encoding))
def test_every_message_survives_a_round_trip(vector, encoding):
    message = decode(vector["json"].encode("utf-8")).message
    assert decode(encode(message, encoding)).message == message


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_datagrams_are_rejected_with_the_expected_code(vector):
    with pytest.raises(RemoteProtocolError) as caught:
        decode(bytes.fromhex(vector["hex"]))
    if vector["expect"] != "drop":
        assert caught.value.code.value == vector["expect"]


def test_a_sixteen_byte_tag_after_the_body_is_split_off():
    body = MESSAGES[0]["json"].encode("utf-8")
    decoded = decode(body + bytes(range(16)))
    assert decoded.body == body and decoded.tag == bytes(range(16))


def test_a_tag_whose_bytes_are_not_utf8_still_splits_off_a_json_body():
    body = MESSAGES[0]["json"].encode("utf-8")
    decoded = decode(body + b"\xff\xfe\x80" * 5 + b"\xc3")
    assert decoded.body == body and len(decoded.tag) == 16


def test_the_committed_vectors_are_what_the_reference_implementation_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.write_all(None).items():
        assert (VECTORS / name).read_text("utf-8") == text, f"{name} is stale: run protocol/vectors/make_vectors.py"


def test_the_committed_schemas_are_what_the_messages_declare_and_accept_every_vector():
    import importlib.util

    import jsonschema

    schema_dir = VECTORS.parent / "schema"
    spec = importlib.util.spec_from_file_location("make_schema", schema_dir / "make_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.write_all(None).items():
        assert (schema_dir / name).read_text("utf-8") == text, f"{name} is stale: run protocol/schema/make_schema.py"
    for vector in MESSAGES + REVISION_1_1["messages"]:
        schema = json.loads((schema_dir / f"{vector['type']}.schema.json").read_text("utf-8"))
        jsonschema.validate(json.loads(vector["json"]), schema)


@pytest.mark.parametrize("vector", REVISION_1_1["messages"], ids=[v["name"] for v in REVISION_1_1["messages"]])
@pytest.mark.parametrize("form", ["json", "msgpack"])
def test_every_revision_1_1_vector_decodes_to_its_value(vector, form):
    data = vector["json"].encode("utf-8") if form == "json" else bytes.fromhex(vector["msgpack"])
    decoded = decode(data)
    assert _plain({"type": decoded.message.TYPE, **to_fields(decoded.message)}) == vector["value"]
    assert encode(decoded.message, Encoding.JSON if form == "json" else Encoding.MSGPACK) == data


@pytest.mark.parametrize("vector", REVISION_1_1["accepted"], ids=[v["name"] for v in REVISION_1_1["accepted"]])
def test_revision_1_1_accepts_integral_floats_for_integers(vector):
    message = decode(bytes.fromhex(vector["hex"])).message
    assert {"type": message.TYPE, **to_fields(message)} == vector["value"]


@pytest.mark.parametrize("vector", REVISION_1_1["invalid"], ids=[v["name"] for v in REVISION_1_1["invalid"]])
def test_revision_1_1_invalid_datagrams_are_rejected_with_the_expected_code(vector):
    with pytest.raises(RemoteProtocolError) as caught:
        decode(bytes.fromhex(vector["hex"]))
    assert caught.value.code.value == vector["expect"]


def test_the_padded_nack_vector_pays_for_the_fragments_it_asks_for():
    (padded,) = [v for v in REVISION_1_1["messages"] if v["name"] == "nack_padded"]
    budget = {(row["fragments"], row["max_datagram"]): row["min_nack_bytes"] for row in REVISION_1_1["nack_budget"]}
    assert len(bytes.fromhex(padded["msgpack"])) >= budget[(3, 1200)] == 360  # ceil(3 * 1200 / 10), by hand
