"""Serve serial-protocol devices on a pty: a stream every period, or answers to requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from drivers.sim.serial_device import SimulatedSerialDevice


class SerialResponder:
    """Speaks for the serial devices of one line; only at each device's own baud rate."""

    def __init__(
        self,
        devices: Mapping[int, SimulatedSerialDevice],
        *,
        line_baud: Callable[[], int | None],
        default_baud: int,
        send: Callable[[bytes], None],
    ) -> None:
        self.devices = devices
        self._line_baud = line_baud
        self._default_baud = default_baud
        self._send = send
        self._readers = {
            unit: device.protocol.request_framer()
            for unit, device in devices.items()
            if device.protocol.mode == "poll"
        }

    def _audible(self, device: SimulatedSerialDevice) -> bool:
        return self._line_baud() == (device.baud or self._default_baud)

    def on_data(self, data: bytes) -> None:
        """Answer poll-mode requests addressed to one of the devices."""
        for unit, reader in self._readers.items():
            device = self.devices[unit]
            for request in reader.feed(data):
                if not device.protocol.addressed_to(request, unit):
                    continue
                device.requests += 1
                if self._audible(device):
                    for frame in device.reading():
                        self._send(frame)

    async def stream(self) -> None:
        """Send each stream-mode device's reading every period, until cancelled."""
        streaming = [d for d in self.devices.values() if d.protocol.mode == "stream"]
        if not streaming:
            return
        loop = asyncio.get_running_loop()
        due = {d.unit: loop.time() for d in streaming}
        while True:
            now = loop.time()
            for device in streaming:
                if now >= due[device.unit]:
                    due[device.unit] = now + device.period
                    if self._audible(device):
                        for frame in device.reading():
                            self._send(frame)
            await asyncio.sleep(max(0.0, min(due.values()) - loop.time()))
