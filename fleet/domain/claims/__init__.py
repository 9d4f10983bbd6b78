"""Claims context: tokens that let technicians enroll gateways into one group."""
