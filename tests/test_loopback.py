"""One daemon on loopback, one reference client, whole sessions over real UDP sockets."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest
import simplejpeg

from tests.conftest import preview_frames_per_second
from yume_bridge.config import BackendConfig, BridgeConfig, NetworkConfig, StreamConfig
from yume_bridge.protocol.client import FrameReceived
from yume_bridge.protocol.codec import encode
from yume_bridge.protocol.messages import Hello, Input, Ping
from yume_bridge.protocol.wire import Encoding
from yume_bridge.tools.client import ClientOptions, ScriptStep, parse_script, run_client

pytestmark = pytest.mark.asyncio

W, W_RIGHT = 9, 10  # action ids: (W, ·) and (W, →)


async def test_a_whole_session_from_an_uploaded_image(bridge, start_image):
    _, port = bridge
    sizes = []
    options = ClientOptions(port=port, image=start_image, script=parse_script("W:2s,W+\u2192:2.5s"),
                            events=((0.5, "a dragon circles the tower"),), tail_s=2.0, encoding=Encoding.JSON)
    summary = await run_client(options, on_frame=lambda e: sizes.append(simplejpeg.decode_jpeg_header(
        e.frame.jpeg)[:2]))
    assert summary.connected and not summary.errors
    assert summary.complete_ratio >= 0.95 and summary.frames_complete >= 40
    assert summary.actions[:2] == [W, W_RIGHT]  # the applied action follows the input
    assert summary.events_acknowledged == [1]
    assert set(sizes) == {(544, 960)}
    assert "generating" in summary.status_states
    assert summary.latency_ms["p50"] < 29 / 16 * 1000 + 1000


@pytest.mark.parametrize("bridge", [BridgeConfig(network=NetworkConfig(port=0, token="s3cret"))], indirect=True)
async def test_a_token_protected_session_streams_and_a_wrong_token_is_refused(bridge):
    _, port = bridge
    good = await run_client(ClientOptions(port=port, token="s3cret", script=parse_script("W:1s"), tail_s=1.5))
    assert good.connected and good.frames_complete > 10 and not good.errors
    bad = await run_client(ClientOptions(port=port, token="wrong", script=parse_script("W:1s"), tail_s=0.5))
    assert not bad.connected and bad.errors[0].startswith("auth_failed")


async def test_ten_thousand_hostile_datagrams_leave_the_daemon_serving(bridge):
    instance, port = bridge
    rng = random.Random(1234)
    seeds = [encode(Hello(protocol=1, nonce=bytes(16)), Encoding.MSGPACK),
             encode(Input(session=1, seq=1, move=(0.5, 0.5)), Encoding.JSON),
             encode(Ping(session=7, seq=3), Encoding.MSGPACK), b"YF\x01" + bytes(60), b'{"type":"hello"}']
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(10_000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 6)):
            mutation = rng.random()
            if mutation < 0.4 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif mutation < 0.6:
                data = data[: rng.randrange(len(data) + 1)]
            elif mutation < 0.8:
                data += rng.randbytes(rng.randint(1, 40))
            else:
                data = bytearray(rng.randbytes(rng.randint(0, 3000)))
        sock.sendto(bytes(data), ("127.0.0.1", port))
        if i % 200 == 0:
            await asyncio.sleep(0)
    sock.close()
    await asyncio.sleep(0.3)
    assert instance.sessions == {}  # no hostile datagram got past the cookie handshake
    summary = await run_client(ClientOptions(port=port, script=parse_script("W:1s"), tail_s=1.5))
    assert summary.connected and summary.frames_complete > 10 and not summary.errors


@pytest.mark.parametrize("bridge", [BridgeConfig(network=NetworkConfig(port=0),
                                                 backend=BackendConfig(fail_every=2))], indirect=True)
async def test_a_failing_generator_reports_an_error_and_the_session_continues(bridge):
    _, port = bridge
    summary = await run_client(ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), 4.0),),
                                             tail_s=2.0))
    assert any(e.startswith("generator_failed") for e in summary.errors)
    assert summary.frames_complete >= 29 * 2  # chunks 1 and 3 arrive around the failed one


@pytest.mark.parametrize("bridge", [BridgeConfig(network=NetworkConfig(port=0),
                                                 stream=StreamConfig(fps=60.0, frames_per_chunk=15))],
                         indirect=True)
async def test_two_sessions_share_the_generator_fairly(bridge):
    _, port = bridge
    # What the generator can make here and now decides how long to watch and how much to expect:
    # 60 fps each is more than a busy machine makes, so the sessions compete and must share.
    made_per_s = preview_frames_per_second(frames=15)
    duration = max(3.0, 2 * 8 * 15 / made_per_s)  # long enough for about eight chunks each
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), duration),), tail_s=0.5)
    first, second = await asyncio.gather(run_client(options), run_client(options))
    frames = (first.frames_complete, second.frames_complete)
    assert min(frames) >= 0.4 * sum(frames), frames  # equal turns: each about half
    expected = min(2 * 60.0, made_per_s) * duration
    assert sum(frames) >= 0.3 * expected, (frames, made_per_s, duration)


async def test_a_text_start_draws_a_world_and_frames_carry_consumed_inputs(bridge):
    _, port = bridge
    frames: list[FrameReceived] = []
    summary = await run_client(ClientOptions(port=port, prompt="a lighthouse on a cliff", seed=3,
                                             script=parse_script("D:1.5s"), tail_s=1.5), on_frame=frames.append)
    assert summary.frames_complete > 20
    assert max(f.frame.header.input_seq for f in frames) > 0


async def test_the_daemon_says_bye_to_clients_when_it_shuts_down(start_image):
    from yume_bridge.daemon.app import run_bridge

    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_bridge(BridgeConfig(network=NetworkConfig(port=0)), stop=stop, started=started))
    _, address = await started
    client_task = asyncio.create_task(run_client(ClientOptions(port=address[1], script=parse_script("W:5s"))))
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.wait_for(task, 5)
    summary = await asyncio.wait_for(client_task, 10)
    assert "closed: shutdown" in summary.errors


async def test_a_client_reconnects_by_itself_after_the_daemon_restarts():
    from tests.conftest import free_udp_port
    from yume_bridge.daemon.app import run_bridge

    port = free_udp_port()
    config = BridgeConfig(network=NetworkConfig(port=port))
    client_task = asyncio.create_task(run_client(ClientOptions(port=port, script=parse_script("W:6s"), tail_s=1.0,
                                                               reconnect=True)))
    for uptime in (2.0, 4.0):
        stop = asyncio.Event()
        started = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_bridge(config, stop=stop, started=started))
        await started
        await asyncio.sleep(uptime)
        stop.set()
        await asyncio.wait_for(task, 5)
        await asyncio.sleep(0.5)  # the daemon is down for a moment
    summary = await asyncio.wait_for(client_task, 20)
    assert summary.reconnects >= 1 and summary.frames_complete > 40


@pytest.mark.parametrize("bridge", [BridgeConfig(network=NetworkConfig(port=0), stream=StreamConfig(fps=30.0),
                                                 backend=BackendConfig(stall_at=3, stall_seconds=20.0,
                                                                       stall_timeout=1.0))], indirect=True)
async def test_a_stalled_generator_ends_that_world_and_the_other_session_continues(bridge):
    _, port = bridge
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), 5.0),), tail_s=1.0)
    first, second = await asyncio.gather(run_client(options), run_client(options))
    stalled = [s for s in (first, second) if any("stalled" in e for e in s.errors)]
    other = [s for s in (first, second) if s not in stalled]
    assert len(stalled) == 1 and len(other) == 1
    assert other[0].frames_complete > stalled[0].frames_complete + 29  # it kept streaming after the stall


async def test_pausing_stops_frames_and_resuming_does_not_burst(bridge):
    from yume_bridge.protocol.client import ClientEndpoint

    _, port = bridge
    loop = asyncio.get_running_loop()
    client = ClientEndpoint()
    arrivals: list[tuple[float, int]] = []

    def on_datagram(data: bytes, _address) -> None:
        client.receive_datagram(data, loop.time())
        while (event := client.next_event()) is not None:
            if isinstance(event, FrameReceived):
                arrivals.append((loop.time(), event.frame.header.frame))

    from yume_bridge.daemon.udp import CallbackDatagramProtocol

    transport, _ = await loop.create_datagram_endpoint(lambda: CallbackDatagramProtocol(on_datagram),
                                                       remote_addr=("127.0.0.1", port))

    async def run_for(seconds: float) -> None:
        end = loop.time() + seconds
        while loop.time() < end:
            client.handle_timer(loop.time())
            for datagram in client.datagrams_to_send():
                transport.sendto(datagram)
            await asyncio.sleep(0.01)

    client.connect(loop.time())
    await run_for(0.3)
    client.start(loop.time(), source="default")
    await run_for(1.5)
    client.configure(loop.time(), paused=True)
    await run_for(0.3)
    paused_at = len(arrivals)
    await run_for(2.0)
    assert len(arrivals) == paused_at  # nothing while paused
    client.configure(loop.time(), paused=False)
    await run_for(1.0)
    transport.close()
    resumed = [t for t, _ in arrivals[paused_at:]]
    assert len(resumed) >= 10
    gaps = [b - a for a, b in zip(resumed, resumed[1:], strict=False)]
    assert min(gaps) > 0.03  # paced at 16 fps (62.5 ms), not a burst of the queued frames
