"""The codec core of the wire protocol: pure Python that runs unchanged on MicroPython.

Nothing here imports typing, enum, dataclasses, msgspec or cbor2 at run time, and no code
relies on dict order (MicroPython dicts are unordered): maps that must come out in a fixed
order are written from ordered pairs.
"""
