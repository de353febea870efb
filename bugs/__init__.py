"""pitfalls.bugs: the catalog of bug kinds (catalog/*.toml, package data) and probekit, the spies probes use."""
