"""Adapter between pymodbus' server and our simulated devices.

pymodbus 3.16 serves either its experimental SimDevice model or a ModbusServerContext
subclass flagged `old_simulator`, whose async_getValues/async_setValues it calls as is.
The latter gives per-request control (exception codes, silence), which faults need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException

from drivers.sdk.datatypes import RegisterType
from drivers.sim.device import SimExceptionError, SimSilenceError, SimulatedDevice

FUNCTION_TABLES = {
    1: RegisterType.COIL,
    5: RegisterType.COIL,
    15: RegisterType.COIL,
    2: RegisterType.DISCRETE_INPUT,
    4: RegisterType.INPUT,
    3: RegisterType.HOLDING,
    6: RegisterType.HOLDING,
    16: RegisterType.HOLDING,
    22: RegisterType.HOLDING,
    23: RegisterType.HOLDING,
}


class SimServerContext(ModbusServerContext):
    """The devices on one simulated bus, keyed by unit id."""

    def __init__(self, devices: Mapping[int, SimulatedDevice]) -> None:
        # The base __init__ is skipped on purpose: it wraps devices in SimCore and warns.
        self.devices = dict(devices)
        self.simdevices = []
        self.old_simulator = True

    def device_ids(self) -> list[int]:
        """Unit ids on this bus."""
        return list(self.devices)

    def _device(self, unit: int) -> SimulatedDevice:
        device = self.devices.get(unit)
        if device is None:
            # With ignore_missing_devices the server stays quiet, like an absent RS-485 node.
            raise NoSuchIdException(f"no simulated device {unit}")
        return device

    async def async_getValues(  # noqa: N802  # pymodbus' name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        """Serve a read, an exception code, or silence."""
        device = self._device(device_id)
        table = FUNCTION_TABLES[func_code]
        try:
            values = device.read(table, address, count)
        except SimSilenceError:
            raise NoSuchIdException("silent") from None
        except SimExceptionError as exc:
            return ExcCodes(exc.code)
        return [bool(v) for v in values] if table.is_bit else values

    async def async_setValues(  # noqa: N802  # pymodbus' name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        """Serve a write."""
        device = self._device(device_id)
        try:
            device.write(FUNCTION_TABLES[func_code], address, [int(v) for v in values])
        except SimSilenceError:
            raise NoSuchIdException("silent") from None
        except SimExceptionError as exc:
            return ExcCodes(exc.code)
        return None
