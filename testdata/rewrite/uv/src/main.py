"""Entry point: a dot product."""
import numpy as np

print(int(np.dot(np.arange(4), np.arange(4))))
