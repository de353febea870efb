"""Running untrusted code: bubblewrap sandboxes, size-limited folders, and the harness that runs inside them."""
