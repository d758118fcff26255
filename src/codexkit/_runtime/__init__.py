"""Finding, configuring and launching the codex binary."""
