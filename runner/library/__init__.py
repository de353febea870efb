"""What a scaffold is: the manifest, the hooks module, catalogs, metrics, variants, the brief and candidate workspaces."""

from pitfalls.library import scaffold as _scaffold
from pitfalls.library import variant as _variant

_scaffold.VARIANT_LOADER[:] = [_variant.variant_scaffold]  # load_scaffold("NAME@v3") builds variants
