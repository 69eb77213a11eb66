"""Generates a synthetic tabular training set as CSV (200,000 rows)."""
import sys

import numpy as np
import pandas as pd

rng = np.random.default_rng(0)
x = rng.standard_normal((200_000, 10))
frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
frame["y"] = x @ np.linspace(1, 2, 10) + np.sin(x[:, 0] * 3) + rng.standard_normal(200_000) * 0.1
frame.to_csv(sys.argv[1], index=False)
