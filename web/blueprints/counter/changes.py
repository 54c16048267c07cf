"""Counter screens: changes (to be built)."""
