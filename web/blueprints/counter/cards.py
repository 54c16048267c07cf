"""Counter screens: cards (to be built)."""
