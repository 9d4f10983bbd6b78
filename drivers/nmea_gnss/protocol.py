"""NMEA 0183 sentences: GGA (fix, satellites, altitude) and RMC (validity, speed, course)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from drivers.sdk.checksums import xor8
from drivers.sdk.errors import DecodeError
from drivers.sdk.framing import LineReader
from drivers.sdk.serial import SerialProtocol, Value

FIX_QUALITY = {
    0: "invalid", 1: "gps", 2: "dgps", 3: "pps", 4: "rtk_fixed", 5: "rtk_float",
    6: "estimated", 7: "manual", 8: "simulation",
}  # fmt: skip
KNOT = 1852 / 3600  # m/s
MAX_SENTENCE = 82 + 10  # the standard's 82, with room for receivers that overrun it


def sentence_body(line: bytes) -> str:
    """The text between $ and *, checksum verified; DecodeError for anything malformed."""
    if not line.startswith(b"$") or not line.endswith(b"\r\n"):
        raise DecodeError("an NMEA sentence runs from $ to CR LF")
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 5:
        raise DecodeError("an NMEA sentence ends with *hh")
    body = line[1:star]
    try:
        expected = int(line[star + 1 : star + 3], 16)
    except ValueError:
        raise DecodeError("NMEA checksum is not two hex digits") from None
    if xor8(body)[0] != expected:
        raise DecodeError("NMEA checksum does not match")
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("NMEA sentence is not ASCII") from None


def _coordinate(value: str, hemisphere: str, degree_digits: int) -> float:
    if len(value) < degree_digits + 2 or hemisphere not in "NSEW" or not hemisphere:
        raise DecodeError(f"bad coordinate {value!r} {hemisphere!r}")
    degrees = float(value[:degree_digits]) + float(value[degree_digits:]) / 60
    return -degrees if hemisphere in "SW" else degrees


def _gga(fields: list[str]) -> dict[str, Value]:
    if len(fields) < 10:
        raise DecodeError("GGA needs at least 10 fields")
    quality = int(fields[6] or 0)
    out: dict[str, Value] = {
        "utc_time": fields[1],
        "fix_quality": FIX_QUALITY.get(quality, f"code {quality}"),
        "satellites": int(fields[7] or 0),
    }
    if quality and fields[2]:
        out["latitude"] = _coordinate(fields[2], fields[3], 2)
        out["longitude"] = _coordinate(fields[4], fields[5], 3)
    if fields[8]:
        out["hdop"] = float(fields[8])
    if quality and fields[9]:
        out["altitude"] = float(fields[9])
    return out


def _rmc(fields: list[str]) -> dict[str, Value]:
    if len(fields) < 9:
        raise DecodeError("RMC needs at least 9 fields")
    out: dict[str, Value] = {"fix_valid": fields[2] == "A"}
    if fields[7]:
        out["speed"] = float(fields[7]) * KNOT
    if fields[8]:
        out["course"] = float(fields[8])
    return out


PARSERS: dict[str, Callable[[list[str]], dict[str, Value]]] = {"GGA": _gga, "RMC": _rmc}


class Nmea0183(SerialProtocol):
    """Stream of sentences; other sentence types (GSV, VTG, ...) are ignored."""

    mode = "stream"

    def framer(self) -> LineReader:
        """Lines from $ to CR LF."""
        return LineReader(start=b"$", end=b"\r\n", max_size=MAX_SENTENCE)

    def decode(self, frame: bytes) -> dict[str, Value]:
        """Channel values of a GGA or RMC sentence; {} for other types."""
        fields = sentence_body(frame).split(",")
        parser = PARSERS.get(fields[0][2:] if len(fields[0]) == 5 else "")
        if parser is None:
            return {}
        try:
            return parser(fields)
        except ValueError as exc:  # float()/int() of a garbled field
            raise DecodeError(f"bad {fields[0]} field: {exc}") from None

    def encode(self, values: Mapping[str, Value], *, unit: int) -> list[bytes]:
        """A GGA and an RMC sentence carrying values, as a receiver sends them each second."""
        lat, lon = float(values.get("latitude", 0.0)), float(values.get("longitude", 0.0))
        quality = values.get("fix_quality", 1)
        code = _code_of(quality) if isinstance(quality, str) else int(quality)
        valid = "A" if values.get("fix_valid", True) else "V"
        time = str(values.get("utc_time", "000000.00"))
        gga = (
            f"GNGGA,{time},{_dm(lat, 2)},{'N' if lat >= 0 else 'S'},{_dm(lon, 3)},"
            f"{'E' if lon >= 0 else 'W'},{code},{int(float(values.get('satellites', 0))):02d},"
            f"{float(values.get('hdop', 1.0)):.2f},{float(values.get('altitude', 0.0)):.1f},M,"
            "-32.0,M,,"
        )
        knots = float(values.get("speed", 0.0)) / KNOT
        rmc = (
            f"GNRMC,{time},{valid},{_dm(lat, 2)},{'N' if lat >= 0 else 'S'},{_dm(lon, 3)},"
            f"{'E' if lon >= 0 else 'W'},{knots:.3f},{float(values.get('course', 0.0)):.2f},"
            "220526,,,A"
        )
        return [_sentence(gga), _sentence(rmc)]


def _code_of(text: str) -> int:
    for code, name in FIX_QUALITY.items():
        if name == text:
            return code
    return 0


def _dm(value: float, degree_digits: int) -> str:
    """Degrees and decimal minutes as NMEA writes them: ddmm.mmmmm / dddmm.mmmmm."""
    value = abs(value)
    degrees = int(value)
    minutes = (value - degrees) * 60
    return f"{degrees:0{degree_digits}d}{minutes:08.5f}"


def _sentence(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"$" + raw + b"*" + xor8(raw).hex().upper().encode() + b"\r\n"
