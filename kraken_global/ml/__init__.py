"""Machine learning: causal features, purged walk-forward training, and the model's use by the strategies."""
