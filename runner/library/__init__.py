"""What a scaffold is: the manifest, the hooks module, catalogs, metrics, variants, the brief and candidate workspaces."""
