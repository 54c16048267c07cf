"""The revocation service: notices in, CRLs and OCSP out (DESIGN.md §1 steps 3 and 5)."""
