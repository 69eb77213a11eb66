"""Generates the training set: 400,000 rows of 8 features and a target."""
import sys

import numpy as np

rng = np.random.default_rng(0)
x = rng.standard_normal((400_000, 8)).astype(np.float32)
y = x @ np.arange(1, 9, dtype=np.float32) + rng.standard_normal(400_000).astype(np.float32)
np.save(sys.argv[1], np.column_stack([x, y]))
