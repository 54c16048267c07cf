"""The certificate authority: the only holder of CA private keys (DESIGN.md §2, §4)."""
