"""Shared test configuration. Compiled functions live in module-scoped fixtures so each compiles once."""
