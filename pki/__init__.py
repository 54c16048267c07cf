"""Pure PKI library: profiles, codecs, the virtual card, signature formats and shared value types.

Nothing here touches a database, the web or CA keys (DESIGN.md §2).
"""
