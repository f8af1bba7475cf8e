"""Readers of the file formats evaluation data comes in (TREC qrels and runs)."""
