"""The micro agent: poll the Modbus devices, filter, batch, buffer, deliver, report health.

One cooperative loop (`step`) instead of tasks: umqtt.simple and the UART calls block
briefly anyway, and a single loop keeps the heap flat. Everything the hardware provides
(UART, MQTT client factory, clocks, heap and RSSI probes) comes in as arguments, so the tests
run this module unchanged on MicroPython and CPython with fakes.
"""

from edge.micro.accounting import Counts
from edge.micro.desired import ConfigGuard, report
from edge.micro.files import atomic_write
from edge.micro.filters import build_chain
from edge.micro.health import device_health, health_message
from edge.micro.modbus import ModbusError, ModbusMaster
from edge.micro.pipeline import Pipeline
from edge.micro.registers import CompiledDriver, decode_block
from edge.micro.ring import Ring
from edge.micro.uplink import Uplink
from protocol.core import cbor
from protocol.core.signed import SignatureError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

_INF = float("inf")
BUS_NAME = "rs485"


class Device:
    """One Modbus device on the bus and its poll schedule."""

    def __init__(self, name: str, unit: int, driver: CompiledDriver, poll_ms: int) -> None:
        self.name = name
        self.unit = unit
        self.driver = driver
        self.poll_ms = poll_ms
        self.due = 0
        self.failures = 0
        self.last_ok: "int | None" = None
        self.last_error: "str | None" = None


class Agent:
    """Everything one controller runs, stepped by `run()` or by a test."""

    def __init__(
        self,
        bundle: "dict[str, Any]",
        root: str,
        master: ModbusMaster,
        connect: "Callable[[], Any]",
        boot_id: str,
        clock: "Callable[[], int]",
        heap: "Callable[[], tuple[int, int]]",
        rssi: "Callable[[], int | None]",
    ) -> None:
        self.root = root
        self.master = master
        self.boot_id = boot_id
        self.clock = clock
        self.heap = heap
        self.rssi = rssi
        self.started = clock()
        self.counts = Counts()
        keys = {}
        for kid, key in (bundle.get("trust") or {}).items():
            keys[kid] = bytes.fromhex(key)
        self.guard = ConfigGuard(keys, root + "/config.state")
        buffer = bundle.get("buffer") or {}
        self.ring = Ring(
            root + "/ring.bin",
            self.counts,
            buffer.get("slots", 128),
            buffer.get("slot_size", 512),
            buffer.get("flush_bytes", 4096),
            int(buffer.get("flush_interval_s", 60) * 1000),
        )
        uplink = bundle.get("uplink") or {}
        self.uplink = Uplink(
            connect,
            self.ring,
            bundle["device_id"],
            uplink.get("window", 4),
            int(uplink.get("ack_timeout_s", 30) * 1000),
            self._on_config,
        )
        self.pipeline = Pipeline(self.ring, self.counts, boot_id)
        self.devices: "list[Device]" = []
        self.health_ms = 30000
        self.health_due = 0
        saved = self._saved_config()
        try:
            self.configure(saved or bundle["config"])
        except (ValueError, KeyError, TypeError, OSError):
            if saved is None:
                raise
            self.configure(bundle["config"])  # the fleet's last config no longer loads

    def configure(self, config: "dict[str, Any]") -> None:
        """Take a config (bundle or fleet); ValueError and the old one stays if invalid."""
        devices = []
        policies = []
        for spec in config["devices"]:
            driver = CompiledDriver.load(self.root + "/drivers/" + spec["driver"] + ".pkd")
            name = spec["name"]
            overrides = spec.get("channels") or {}
            for channel, unit in driver.channels():
                policy = dict(driver.policies.get(channel) or {})
                policy.update(overrides.get(channel) or {})
                low, high = policy.get("range") or (-_INF, _INF)
                policies.append((name + "/" + channel, low, high, policy.get("filters") or []))
            poll_ms = int(spec.get("poll_s", 10) * 1000)
            devices.append(Device(name, spec["unit"], driver, poll_ms))
        batch = config.get("batch") or {}
        batch_max = batch.get("max", 50)
        interval_ms = int(batch.get("interval_s", 5) * 1000)
        built = [(key, low, high, build_chain(steps)) for key, low, high, steps in policies]
        if batch_max < 1 or interval_ms <= 0:
            raise ValueError("batch needs max >= 1 and interval_s > 0")
        # Validated in full: only now does anything change.
        self.pipeline.close()
        self.pipeline.policies = {}
        for key, low, high, chain in built:
            self.pipeline.set_policy(key, low, high, chain)
        self.pipeline.batch_max = batch_max
        self.pipeline.batch_interval_ms = interval_ms
        self.devices = devices
        self.health_ms = int(config.get("health_interval_s", 30) * 1000)

    def step(self, now: int) -> None:
        """One pass: due polls, batch and flush deadlines, the uplink, a due heartbeat."""
        for device in self.devices:
            if now - device.due >= 0:
                self._poll(device, now)
                device.due = now + device.poll_ms
        self.pipeline.tick(now)
        self.ring.maybe_flush(now)
        self.uplink.step(now)
        if now - self.health_due >= 0 and self.uplink.connected:
            self.uplink.publish(self.uplink.topic_health, self.health(now))
            self.health_due = now + self.health_ms

    def run(self, sleep_ms: "Callable[[int], None]", idle_ms: int = 50) -> None:
        """Step forever."""
        while True:
            self.step(self.clock())
            sleep_ms(idle_ms)

    def _poll(self, device: Device, now: int) -> None:
        try:
            for function, address, count, fields in device.driver.reads:
                data = self.master.read(device.unit, function, address, count)
                for channel, value, unit in decode_block(fields, data):
                    self.pipeline.submit(device.name + "/" + channel, now, value, unit)
        except ModbusError as exc:
            # The device's readings go stale rather than vanish; health shows why.
            device.failures += 1
            device.last_error = str(exc)
            return
        device.failures = 0
        device.last_ok = now

    def health(self, now: int) -> bytes:
        """This controller's heartbeat."""
        used, free = self.heap()
        devices = []
        for device in self.devices:
            age = None if device.last_ok is None else (now - device.last_ok) / 1000
            online = device.last_ok is not None and device.failures == 0
            devices.append(
                device_health(
                    BUS_NAME, device.name, online, age, device.failures, device.last_error
                )
            )
        return health_message(
            self.boot_id,
            (now - self.started) / 1000,
            max(self.guard.applied, 0),
            self.counts,
            self.ring,
            len(self.pipeline.open),
            used,
            free,
            self.rssi(),
            devices,
        )

    def _on_config(self, envelope: bytes) -> None:
        version = -1
        try:
            doc = self.guard.check(envelope)
            if doc is None:
                return
            version = doc["version"]
            self.configure(doc["config"])
        except SignatureError as exc:
            self._report(getattr(exc, "version", version), "rejected", str(exc))
            return
        except (ValueError, KeyError, TypeError, OSError) as exc:
            self._report(version, "rejected", "invalid config: " + str(exc))
            return
        self._save_config(doc["config"])
        self.guard.accepted(version)
        self._report(version, "applied", None)

    def _report(self, version: int, status: str, reason: "str | None") -> None:
        self.uplink.publish(self.uplink.topic_reported, report(version, status, reason), True)

    def _saved_config(self) -> "dict[str, Any] | None":
        try:
            with open(self.root + "/config.cbor", "rb") as handle:
                config = cbor.loads(handle.read())
        except (OSError, ValueError):
            return None
        return config if isinstance(config, dict) else None

    def _save_config(self, config: "dict[str, Any]") -> None:
        atomic_write(self.root + "/config.cbor", cbor.dumps(config))
