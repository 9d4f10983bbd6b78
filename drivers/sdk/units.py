"""SenML unit names a driver may use, so the catalogue stays honest.

Primary units are the IANA "SenML Units" registry (RFC 8428 section 12.1, extended by
RFC 8798 section 2: B, VA, VAs, var, vars, J/m, kg/m3, deg). Secondary units are the
RFC 8798 section 3 registry: linear transforms of a primary unit (kWh = 3.6e6 J).
Energy meters report kWh/kvarh as secondary units rather than converting to J, because
that is what the register holds and what people read; a consumer that needs SI scales.
"""

from __future__ import annotations

PRIMARY_UNITS = frozenset(
    {
        "m", "kg", "g", "s", "A", "K", "cd", "mol", "Hz", "rad", "sr", "N", "Pa", "J", "W",
        "C", "V", "F", "Ohm", "S", "Wb", "T", "H", "Cel", "lm", "lx", "Bq", "Gy", "Sv",
        "kat", "m2", "m3", "l", "m/s", "m/s2", "m3/s", "l/s", "W/m2", "cd/m2", "bit",
        "bit/s", "lat", "lon", "pH", "dB", "dBW", "Bspl", "count", "/", "%", "%RH", "%EL",
        "EL", "1/s", "1/min", "beat/min", "beats", "S/m",
        "B", "VA", "VAs", "var", "vars", "J/m", "kg/m3", "deg",
    }
)  # fmt: skip

SECONDARY_UNITS = frozenset(
    {
        "ms", "min", "h", "MHz", "kW", "kVA", "kvar", "Ah", "Wh", "kWh", "varh", "kvarh",
        "kVAh", "Wh/km", "KiB", "kB", "MiB", "MB", "GiB", "GB", "TiB", "TB", "kbit/s",
        "Mbit/s", "Gbit/s", "Tbit/s", "kB/s", "MB/s", "GB/s", "mV", "mA", "dBm", "ug/m3",
        "mm/h", "m/h", "ppm", "/100", "/1000", "hPa", "mm", "cm", "km", "km/h",
    }
)  # fmt: skip

SENML_UNITS = PRIMARY_UNITS | SECONDARY_UNITS


def is_senml_unit(unit: str) -> bool:
    """True for a registered SenML unit name, or "" for a dimensionless count-less value."""
    return unit == "" or unit in SENML_UNITS
