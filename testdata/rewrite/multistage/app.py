"""Prints a small statistic, proving numpy imports."""
import numpy as np

print("mean", np.arange(10).mean())
