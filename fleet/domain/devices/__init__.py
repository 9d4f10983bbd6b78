"""Devices context: the gateways the fleet knows or has heard from."""
