"""The version of codexkit (one place; the package, telemetry and the CLI read it)."""

__version__ = "0.1.0"
