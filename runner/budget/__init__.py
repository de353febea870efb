"""Counting what a model artifact holds, by information, without running candidate code; and its canonical copy."""
