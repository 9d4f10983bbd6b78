"""Enrollment context: claim a gateway into the fleet, and its identity's lifecycle after."""
