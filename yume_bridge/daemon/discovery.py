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
class Load:
    """What a daemon can take on, advertised in its TXT record so that clients pick the least loaded."""

    devices: int
    sessions: int
    max_sessions: int
    fps: float
    """Frames per second the daemon streams right now, all sessions together."""

    @property
    def free_sessions(self) -> int:
        return max(0, self.max_sessions - self.sessions)

    def properties(self) -> dict[str, str]:
        return {"devices": str(self.devices), "sessions": str(self.sessions), "max_sessions": str(self.max_sessions),
                "free": str(self.free_sessions), "load_fps": f"{self.fps:.1f}"}

    @classmethod
    def from_properties(cls, properties: dict[str, str]) -> Load | None:
        """None for a daemon that does not advertise its load (an older version) or garbles it."""
        try:
            return cls(devices=int(properties["devices"]), sessions=int(properties["sessions"]),
                       max_sessions=int(properties["max_sessions"]), fps=float(properties["load_fps"]))
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class Daemon:
    """A daemon found on the network."""

    name: str
    host: str
    port: int
    properties: dict[str, str]

    @property
    def load(self) -> Load | None:
        return Load.from_properties(self.properties)


def least_loaded(daemons: list[Daemon]) -> Daemon | None:
    """The daemon with the most free session slots per device, then the least streaming; unknown load last."""
    def rank(daemon: Daemon) -> tuple:
        load = daemon.load
        if load is None:
            return (1, 0.0, 0.0, daemon.name)
        return (0 if load.free_sessions else 2, -load.free_sessions / max(1, load.devices), load.fps, daemon.name)

    return min(daemons, key=rank, default=None)


class Advertisement:
    """A registered service whose load fields can be refreshed while it runs."""

    def __init__(self, zc: AsyncZeroconf | None, info: AsyncServiceInfo) -> None:
        self._zc = zc
        self._info = info
        self._load: Load | None = None

    async def update(self, load: Load) -> None:
        """Re-announce the TXT record when the load changed (at most as often as it is called)."""
        if self._zc is None or load == self._load:
            return
        self._load = load
        old = self._info
        self._info = AsyncServiceInfo(old.type, old.name, port=old.port, server=old.server, addresses=old.addresses,
                                      properties={**_decoded(old.properties), **load.properties()})
        try:
            await self._zc.async_update_service(self._info)
        except Exception as exc:  # noqa: BLE001 - a stale load figure is harmless
            log.debug("zeroconf update failed: %s", exc)


def _decoded(properties: dict) -> dict[str, str]:
    return {k.decode() if isinstance(k, bytes) else k: (v or b"").decode() if isinstance(v, bytes) else (v or "")
            for k, v in properties.items()}


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
async def advertise(config, spec, port: int, interfaces: list[str] | None = None,
                    load: Load | None = None) -> AsyncIterator[Advertisement]:
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
        **(load.properties() if load is not None else {}),
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
        yield Advertisement(None, info)
        return
    try:
        yield Advertisement(zc, info)
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
                props = _decoded(info.properties)
                found.append(Daemon(name, addresses[0] if addresses else "", info.port or 0, props))
        return found
    finally:
        await browser.async_cancel()
        await zc.async_close()
