"""Planted-bug probes run against a workspace, and the static tamper scan that cross-checks them."""
