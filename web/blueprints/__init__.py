"""One blueprint per area: ``repository`` (CRLs, CA certificates, OCSP) and ``api`` (JSON).

The counter and the portal come later, each in its own module.
"""
