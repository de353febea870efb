"""The ``pitfalls`` command: a thin shell over the service and live APIs, and plain-text rendering."""
