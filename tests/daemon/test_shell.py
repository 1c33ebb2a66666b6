"""The asyncio shell's own defences: fair draining per source, bounded queues, safe and bounded logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from yume_bridge.daemon.logs import CHURN_LOG_LIMIT, ChurnLog, printable
from yume_bridge.daemon.udp import INBOUND_PER_SOURCE, SOURCE_RATE, UdpEndpoint

FLOODER, CLIENT = ("127.0.0.2", 9), ("127.0.0.3", 9)


@pytest.mark.asyncio
async def test_a_flooding_source_cannot_crowd_out_another_sources_datagrams():
    batches: list[list] = []
    endpoint = UdpEndpoint(batches.append)
    for index in range(5000):
        endpoint.datagram_received(b"flood %d" % index, FLOODER)
    endpoint.datagram_received(b"ping", CLIENT)
    await asyncio.sleep(0)
    (batch,) = batches
    assert (b"ping", CLIENT) in batch[:2]  # served in the first round, not after the flood
    assert sum(address == FLOODER for _, address in batch) == INBOUND_PER_SOURCE
    assert endpoint.dropped_inbound == 5000 - INBOUND_PER_SOURCE


def test_client_supplied_text_cannot_forge_a_log_line():
    text = printable("Unity\nINFO session 00000001 closed: shutdown\x1b[2J")
    assert "\n" not in text and "\x1b" not in text and "Unity" in text


def test_session_churn_is_logged_within_a_budget_and_the_rest_is_counted(caplog):
    now = [0.0]
    churn = ChurnLog(lambda: now[0])
    with caplog.at_level(logging.INFO, logger="yume_bridge"):
        for index in range(1000):
            churn.info("session %08x opened", index)
        now[0] += 10.0
        churn.info("session %08x opened", 1001)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) <= CHURN_LOG_LIMIT[1] + 2
    assert any("left out" in line and str(1000 - int(CHURN_LOG_LIMIT[1])) in line for line in lines)


@pytest.mark.asyncio
async def test_a_source_over_its_datagram_budget_is_dropped_unread():
    batches: list[list] = []
    endpoint = UdpEndpoint(batches.append)
    for index in range(3000):
        endpoint.datagram_received(b"x", FLOODER)
        if index % 200 == 199:
            await asyncio.sleep(0)  # the loop drains between bursts
    endpoint.datagram_received(b"ping", CLIENT)
    await asyncio.sleep(0)
    delivered = sum(len(batch) for batch in batches)
    assert delivered <= SOURCE_RATE[1] + SOURCE_RATE[0] * 1.0 + 1  # the burst, plus a second's worth at most
    assert (b"ping", CLIENT) in batches[-1]
