"""The public API over a workspace (submit, hints, reveal) and per-session storage limits."""
