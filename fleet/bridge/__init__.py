"""The MQTT bridge: the only part of the fleet that talks to the broker."""
