"""Zeroconf (DNS-SD over mDNS): the daemon advertises `_yume-bridge._udp.local.`, clients browse."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from yume_bridge import __version__
from yume_bridge.protocol.wire import PROTOCOL_VERSION, SERVICE_TYPE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Daemon:
    """A daemon found on the network."""

    name: str
    host: str
    port: int
    properties: dict[str, str]


def _addresses(host: str) -> list[bytes]:
    if host in ("0.0.0.0", "::", ""):
        try:
            found = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        except OSError:
            found = set()
        found.discard("127.0.0.1")
        return [socket.inet_aton(a) for a in sorted(found)] or [socket.inet_aton("127.0.0.1")]
    return [ipaddress.ip_address(host).packed]


def _zeroconf(interfaces: list[str] | None) -> AsyncZeroconf:
    if interfaces is not None:
        return AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
    try:
        return AsyncZeroconf(ip_version=IPVersion.V4Only)
    except OSError:  # no default route (a closed lab network): fall back to loopback
        return AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)


@asynccontextmanager
async def advertise(config, spec, port: int, interfaces: list[str] | None = None) -> AsyncIterator[None]:
    """Register the service for the lifetime of the context; unregister on exit."""
    properties = {
        "protocol": str(PROTOCOL_VERSION),
        "version": __version__,
        "backend": spec.backend,
        "model": spec.model,
        "width": str(spec.width),
        "height": str(spec.height),
        "fps": f"{config.stream.fps:g}",
        "token": "required" if config.network.token else "none",
    }
    hostname = socket.gethostname().split(".")[0] or "yume"
    info = AsyncServiceInfo(SERVICE_TYPE, f"{hostname}-{port}.{SERVICE_TYPE}", port=port, properties=properties,
                            addresses=_addresses(config.network.host), server=f"{hostname}.local.")
    zc = _zeroconf(interfaces)
    try:
        await zc.async_register_service(info, cooperating_responders=True)
        log.info("advertising %s on port %d", SERVICE_TYPE, port)
    except Exception as exc:  # noqa: BLE001 - discovery is a convenience; the daemon serves without it
        log.warning("zeroconf advertisement failed (%s); clients must be given host and port", exc)
        await zc.async_close()
        yield
        return
    try:
        yield
    finally:
        try:
            await asyncio.wait_for(zc.async_unregister_service(info), 2.0)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            log.debug("zeroconf unregister did not finish")
        await zc.async_close()


async def browse(timeout: float = 2.0, interfaces: list[str] | None = None) -> list[Daemon]:
    """Daemons answering on the network within ``timeout`` seconds."""
    zc = _zeroconf(interfaces)
    names: set[str] = set()

    def on_change(zeroconf, service_type, name, state_change) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.add(name)

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        await asyncio.sleep(timeout)
        found = []
        for name in sorted(names):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if await info.async_request(zc.zeroconf, 1000):
                addresses = info.parsed_addresses()
                props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
                found.append(Daemon(name, addresses[0] if addresses else "", info.port or 0, props))
        return found
    finally:
        await browser.async_cancel()
        await zc.async_close()
