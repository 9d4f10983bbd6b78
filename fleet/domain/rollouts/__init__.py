"""Staged rollouts of signed configs: create, gate on health, pause/resume/abort, progress."""
