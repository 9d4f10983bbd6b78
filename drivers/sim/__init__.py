"""Register-map-driven Modbus simulators: every driver gets one, no hardware on the desk."""
