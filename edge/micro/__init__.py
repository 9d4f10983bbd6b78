"""The MicroPython agent for ESP32-class pole controllers (see docs/micro.md).

Every module here runs on MicroPython and on CPython (the tests run both); only board.py
touches hardware (machine, network, umqtt) and is imported on the device alone.
"""
