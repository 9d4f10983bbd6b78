"""The one error type of the wire protocol."""


class ProtocolError(ValueError):
    """Bytes or a topic from the wire that do not follow the polekit v1 protocol."""
