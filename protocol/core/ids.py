"""Device ids and boot ids, checked without `re` (MicroPython's lacks counted repetition)."""

_DEVICE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_HEX = "0123456789abcdef"


def _all_in(text: str, alphabet: str) -> bool:
    return all(char in alphabet for char in text)


def is_valid_device_id(device_id: object) -> bool:
    """True for [a-z0-9-]{1,64}: a device id can never smuggle / + # into a topic."""
    return (
        isinstance(device_id, str)
        and 1 <= len(device_id) <= 64
        and _all_in(device_id, _DEVICE_CHARS)
    )


def is_valid_boot_id(boot_id: object) -> bool:
    """True for the 8-32 lowercase hex characters an agent uses as boot id."""
    return isinstance(boot_id, str) and 8 <= len(boot_id) <= 32 and _all_in(boot_id, _HEX)
