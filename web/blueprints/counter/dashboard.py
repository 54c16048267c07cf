"""Counter screens: dashboard (to be built)."""
