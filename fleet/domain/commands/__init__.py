"""Commands context: remote control of one gateway or a group, and nightly schedules."""
