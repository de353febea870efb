"""Trusted reads of candidate-controlled files: race-free bounded copying, removal, viewing and the predictions loader."""
