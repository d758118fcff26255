"""``python -m codexkit.cli``."""

from . import main

main()
