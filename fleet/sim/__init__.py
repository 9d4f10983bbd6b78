"""Fleet simulator: thousands of protocol-level gateways in one process (tests, benchmarks)."""
