"""What runs inside a sandbox: training batches, the warm predictor and the probe runner (standalone: imports nothing of pitfalls)."""
