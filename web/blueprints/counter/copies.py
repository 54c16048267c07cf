"""Counter screens: copies (to be built)."""
