"""Cross-cutting security: the fleet's own keys, device public keys, admin auth, rate limits."""
