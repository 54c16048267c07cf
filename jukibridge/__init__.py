"""The resident register (住民基本台帳) and the Juki-net tiers (DESIGN.md §1–3)."""
