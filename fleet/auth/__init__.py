"""Access control: one guard for every controller (roles over a city/district/street subtree), and
the audit trail of every mutating request."""
