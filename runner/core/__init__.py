"""Foundation every other subpackage may import: typed errors, result objects, the SQLite store, the installation secret, note validation."""
