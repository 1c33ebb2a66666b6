"""The studio's WebSocket transport without a browser: sessions, Host and Origin checks, limits, tokens."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from yume_bridge.config import BridgeConfig, NetworkConfig, WebConfig
from yume_bridge.daemon.websocket import HostPolicy, Outbox
from yume_bridge.protocol.client import ClientEndpoint, ClientState
from yume_bridge.protocol.fragment import split_frame
from yume_bridge.protocol.wire import Encoding, FrameHeader
from yume_bridge.tools.client import ClientOptions, Transport, parse_script, run_client

WITH_STUDIO = BridgeConfig(network=NetworkConfig(port=0), web=WebConfig(enabled=True, port=0))
WITH_TOKEN = BridgeConfig(network=NetworkConfig(port=0, token="s3cret"), web=WebConfig(enabled=True, port=0))
studio = pytest.mark.parametrize("bridge", [WITH_STUDIO], indirect=True)


def _web_port(instance) -> int:
    return instance.studio.local_address[1]


async def _http(port: int, path: str, host: str, *extra: str) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 GET: (status, headers, body). Lets a test send any Host header it likes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *extra, "", ""]
    writer.write("\r\n".join(lines).encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    body = await reader.readexactly(int(headers.get("Content-Length", "0")))
    writer.close()
    return int(status_line.split()[1]), headers, body


UPGRADE = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
           "Sec-WebSocket-Version: 13")


async def _handshake(port: int, token: str | None = None, connection=None):
    """A protocol session over the studio's WebSocket (a new one unless given): (connection, client endpoint)."""
    connection = connection or await connect(f"ws://127.0.0.1:{port}/ws", max_size=None)
    client = ClientEndpoint(encoding=Encoding.JSON, token=token, max_datagram=65000)
    client.connect(0.0)
    while client.state is ClientState.CONNECTING:
        for datagram in client.datagrams_to_send():
            await connection.send(datagram)
        client.receive_datagram(await asyncio.wait_for(connection.recv(), 5), 0.0)
    return connection, client


async def _until(condition, seconds: float = 5.0) -> None:
    """Poll ``condition`` for up to ``seconds``; the caller asserts it afterwards."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)


# --- whole sessions -------------------------------------------------------------------------------


@studio
async def test_the_reference_client_streams_over_the_websocket_like_over_udp(bridge):
    instance, _ = bridge
    summary = await run_client(ClientOptions(port=_web_port(instance), transport=Transport.WEBSOCKET,
                                             max_datagram=65000, script=parse_script("W:2.5s"), tail_s=2.5,
                                             events=((0.3, "a door opens"),), encoding=Encoding.JSON))
    assert summary.connected and not summary.errors
    assert summary.frames_complete >= 15
    assert summary.frames_lost <= 1  # nothing is lost on a WebSocket; the run's end may cut the last frame
    assert summary.actions[0] == 9 and summary.events_acknowledged == [1]


@studio
async def test_a_closed_connection_frees_its_sessions_at_once(bridge):
    instance, _ = bridge
    connection, client = await _handshake(_web_port(instance))
    _, second = await _handshake(_web_port(instance), connection=connection)  # a second hello, same socket
    assert client.state is second.state is ClientState.CONNECTED and len(instance.sessions) == 2
    await connection.close()
    await _until(lambda: not instance.sessions, 2.0)  # far below the 10 s idle timeout
    assert instance.sessions == {}


@studio
async def test_a_frame_arrives_in_as_few_messages_as_the_negotiated_datagram_allows(bridge):
    instance, _ = bridge
    connection, client = await _handshake(_web_port(instance))
    client.start(0.0, source="default")
    for datagram in client.datagrams_to_send():
        await connection.send(datagram)
    while True:
        message = await asyncio.wait_for(connection.recv(), 10)
        header = FrameHeader.unpack(message)
        if header is not None:
            break
    assert header.fragment_count == -(-header.frame_length // (65000 - 44))
    await connection.close()


# --- what is served, and to whom ------------------------------------------------------------------


@studio
async def test_the_page_and_its_modules_are_served_with_a_strict_content_policy(bridge):
    instance, _ = bridge
    port = _web_port(instance)
    status, headers, body = await _http(port, "/", f"127.0.0.1:{port}")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"studio.js" in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    status, headers, _ = await _http(port, "/studio.js", f"localhost:{port}")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    for path in ("/../setup.cfg", "/websocket.py", "/%2e%2e/app.py"):
        assert (await _http(port, path, f"127.0.0.1:{port}"))[0] == 404


@studio
async def test_a_dns_rebound_host_is_refused_for_the_page_and_the_upgrade(bridge):
    instance, _ = bridge
    port = _web_port(instance)
    assert (await _http(port, "/", f"attacker.example:{port}"))[0] == 421
    status, _, _ = await _http(port, "/ws", f"attacker.example:{port}", *UPGRADE)
    assert status == 421
    assert (await _http(port, "/ws", f"127.0.0.1:{port + 1}", *UPGRADE))[0] == 421  # another port is another site
    assert instance.sessions == {} and instance.studio.peers == ()


@studio
async def test_a_cross_origin_upgrade_is_refused_and_the_same_origin_is_accepted(bridge):
    instance, _ = bridge
    port = _web_port(instance)
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{port}/ws", origin="http://evil.example")
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        await connect(f"ws://127.0.0.1:{port}/ws", origin="null")
    async with connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}") as same_origin:
        assert same_origin.state.name == "OPEN"
    assert instance.studio.refused_upgrades == 2


@studio
async def test_a_message_over_the_control_limit_closes_the_connection_and_frees_the_session(bridge):
    instance, _ = bridge
    connection, _ = await _handshake(_web_port(instance))
    await connection.send(b"{" + b" " * 5000 + b"}")
    with pytest.raises(ConnectionClosed):
        while True:  # what was already on its way may still arrive; then the close
            await asyncio.wait_for(connection.recv(), 5)
    assert connection.close_code == 1009  # message too big, refused before it was buffered
    await _until(lambda: not instance.sessions, 2.0)
    assert instance.sessions == {}


@studio
async def test_garbage_within_the_limit_is_dropped_by_the_codec_and_the_session_goes_on(bridge):
    instance, _ = bridge
    connection, client = await _handshake(_web_port(instance))
    dropped = instance.endpoint.dropped
    for garbage in (b"\x00\x01", b'{"type":"input"', "not json at all", b"YF\x01" + bytes(60)):
        await connection.send(garbage)
    client.ping(1.0)
    for datagram in client.datagrams_to_send():
        await connection.send(datagram)
    await _until(lambda: instance.endpoint.dropped >= dropped + 3)
    assert instance.endpoint.dropped >= dropped + 3 and len(instance.sessions) == 1
    await connection.close()


# --- tokens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bridge", [WITH_TOKEN], indirect=True)
async def test_a_token_daemon_asks_the_same_proof_over_the_websocket(bridge):
    instance, _ = bridge
    port = _web_port(instance)
    options = dict(port=port, transport=Transport.WEBSOCKET, max_datagram=65000, script=parse_script("W:1s"),
                   tail_s=0.5)
    good = await run_client(ClientOptions(token="s3cret", **{**options, "tail_s": 3.0}))
    assert good.connected and good.frames_complete > 5 and not good.errors
    wrong = await run_client(ClientOptions(token="wrong", **options))
    assert not wrong.connected and wrong.errors[0].startswith("auth_failed")
    missing = await run_client(ClientOptions(**options))
    assert not missing.connected and missing.errors[0].startswith("auth_required")


@pytest.mark.parametrize("bridge", [WITH_TOKEN], indirect=True)
async def test_an_untagged_message_in_a_token_session_is_dropped(bridge):
    instance, _ = bridge
    connection, client = await _handshake(_web_port(instance), token="s3cret")
    client._key = None  # the client forgets to tag: the daemon must not act on it
    client.start(0.0, source="default")
    for datagram in client.datagrams_to_send():
        await connection.send(datagram)
    await asyncio.sleep(0.3)
    playback = next(iter(instance.sessions.values()))
    assert playback.world == 0
    await connection.close()


# --- the pieces, without sockets ------------------------------------------------------------------


def _frame(number: int, size: int, fragment_bytes: int = 1000) -> list[bytes]:
    header = FrameHeader(session=7, frame=number, chunk=0, frame_in_chunk=number, fragment_index=0,
                         fragment_count=0, payload_length=0, frame_length=0, input_seq=0, time_us=0, action=0)
    return split_frame(header, bytes(size), fragment_bytes + 44)


async def test_a_slow_browser_loses_its_oldest_waiting_frames_whole_and_never_a_control_message():
    outbox = Outbox(max_frame_bytes=10_000, max_control=8)
    assert outbox.put(b'{"type":"status"}')
    for number in range(5):
        for datagram in _frame(number, 3000):
            assert outbox.put(datagram)
    assert outbox.put(b'{"type":"event_ack"}')
    sent = [await outbox.get() for _ in range(len(outbox))]
    frames = [FrameHeader.unpack(batch[0]).frame for batch in sent if FrameHeader.unpack(batch[0])]
    assert sent[0] == [b'{"type":"status"}'] and sent[-1] == [b'{"type":"event_ack"}']
    assert frames == [2, 3, 4] and outbox.dropped_frames == 2  # the newest frames stay, each whole
    assert all(len(batch) == 3 for batch in sent if FrameHeader.unpack(batch[0]))


async def test_a_peer_that_lets_control_messages_pile_up_is_reported():
    outbox = Outbox(max_frame_bytes=10_000, max_control=3)
    assert all(outbox.put(b'{"type":"pong"}') for _ in range(3))
    assert not outbox.put(b'{"type":"pong"}')


@pytest.mark.parametrize("host,allowed", [
    ("127.0.0.1:47801", True), ("localhost:47801", True), ("LOCALHOST:47801", True),
    ("127.0.0.1:47802", False), ("127.0.0.1", False), ("evil.example:47801", False),
    ("127.0.0.1.nip.io:47801", False), ("192.168.1.5:47801", False), ("", False), ("[::1]:47801", False),
])
def test_a_loopback_studio_answers_only_to_its_own_address(host, allowed):
    assert HostPolicy("127.0.0.1", 47801).host_allowed(host) is allowed


def test_a_studio_bound_to_every_interface_answers_ip_literals_but_no_dns_name():
    policy = HostPolicy("0.0.0.0", 47801)
    assert policy.host_allowed("192.168.1.5:47801") and policy.host_allowed("[fe80::1]:47801")
    assert not policy.host_allowed("studio.attacker.example:47801")


def test_only_the_page_itself_or_a_non_browser_may_open_the_websocket():
    policy = HostPolicy("127.0.0.1", 47801)
    assert policy.origin_allowed(None, "127.0.0.1:47801")
    assert policy.origin_allowed("http://127.0.0.1:47801", "127.0.0.1:47801")
    assert not policy.origin_allowed("http://localhost:47801", "127.0.0.1:47801")
    assert not policy.origin_allowed("https://evil.example", "127.0.0.1:47801")
    assert not policy.origin_allowed("null", "127.0.0.1:47801")
