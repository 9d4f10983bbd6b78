"""Access context: API keys (role + scope) and the audit log."""
