"""dev: see docs/architecture.md."""
