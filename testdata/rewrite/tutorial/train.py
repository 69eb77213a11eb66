"""Fits a linear model by least squares and saves its weights."""
import sys

import numpy as np

data = np.load(sys.argv[1])
w, *_ = np.linalg.lstsq(data[:, :-1], data[:, -1], rcond=None)
np.savez(sys.argv[2], w=w)
print("weights", np.round(w, 2))
