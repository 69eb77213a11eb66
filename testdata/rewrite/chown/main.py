"""Loads the lookup table shipped beside it."""
import numpy as np

table = np.loadtxt("table.csv", delimiter=",")
print(table.shape)
