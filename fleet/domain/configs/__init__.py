"""Config documents: immutable layered revisions, validation, explain and preview."""
