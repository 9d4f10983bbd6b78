"""Remote commands on the gateway against a simulated lamp controller and tilt sensor:
writes within the driver's limits land in the registers, everything else is refused with why."""

from __future__ import annotations

from drivers.sdk.datatypes import RegisterType
from drivers.sim.server import DeviceSpec, Simulator
from edge.commands import CommandHandler
from edge.model import Reading
from protocol.messages import CommandRequest, CommandResult, decode_message, encode_message
from tests.integration.test_bus_tcp import scheduler_for


async def _run(handler: CommandHandler, **request: object) -> CommandResult:
    payload = encode_message(CommandRequest(**request))  # type: ignore[arg-type]
    return await handler.execute(payload)


async def test_writes_within_limits_and_refusals() -> None:
    specs = [DeviceSpec.parse("streetlight_dimmer:1"), DeviceSpec.parse("pole_tilt:2")]
    readings: list[Reading] = []
    async with Simulator.for_specs(specs, tcp_port=0) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(
            sim.port,
            [("lamp", "streetlight_dimmer", 1, 5.0), ("tilt", "pole_tilt", 2, 5.0)],
            readings,
        )
        handler = CommandHandler(schedulers=[scheduler], encoding="cbor")
        done = await _run(handler, kind="write", point="dim", value=40)
        assert (done.status, done.devices) == ("done", ["lamp"])
        assert sim.device(1).read(RegisterType.HOLDING, 0, 1) == [40]
        off = await _run(handler, kind="write", device="lamp", point="switch", value=False)
        assert off.status == "done"
        assert sim.device(1).read(RegisterType.COIL, 0, 1) == [0]

        too_much = await _run(handler, kind="write", device="lamp", point="dim", value=150)
        assert too_much.status == "failed"
        assert "outside the driver's limits 0..100 %" in str(too_much.reason)
        assert sim.device(1).read(RegisterType.HOLDING, 0, 1) == [40]
        not_writable = await _run(handler, kind="write", device="tilt", point="dim", value=10)
        assert "no writable point 'dim'" in str(not_writable.reason)
        assert "alarm_threshold" in str(not_writable.reason)
        unknown = await _run(handler, kind="write", device="pump", point="dim", value=10)
        assert "no sensor 'pump'" in str(unknown.reason)
        bad_switch = await _run(handler, kind="write", device="lamp", point="switch", value=7)
        assert "on/off" in str(bad_switch.reason)

        locked = CommandHandler(
            schedulers=[scheduler], encoding="cbor", allowed={"lamp": ["switch"]}
        )
        refused = await _run(locked, kind="write", device="lamp", point="dim", value=10)
        assert "config of lamp does not allow writing 'dim' (allowed: switch)" in str(
            refused.reason
        )
        assert sim.device(1).read(RegisterType.HOLDING, 0, 1) == [40]
        nothing = await _run(locked, kind="write", point="dim", value=10)
        assert nothing.status == "failed"

        reread = await _run(handler, kind="reread", device="tilt")
        assert (reread.status, reread.devices) == ("done", ["tilt"])
        assert any(r.device == "tilt" for r in readings)
        reboot = await _run(handler, kind="reboot")
        assert (reboot.status, reboot.reason) == ("done", "restarting")
        garbage = await handler.execute(b"\xff\x00")
        assert garbage.status == "failed"
        assert decode_message(encode_message(garbage), CommandResult) == garbage
        await scheduler.close()
