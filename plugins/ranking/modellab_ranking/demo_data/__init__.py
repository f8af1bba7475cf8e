"""Bundled ranking demo data: the Vaswani collection (see vaswani/README.md)."""
