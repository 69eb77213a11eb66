"""Loads the trained model and predicts one row."""
import joblib
import numpy as np
import pandas as pd

model = joblib.load("model.joblib")
row = pd.DataFrame(np.zeros((1, 10)), columns=[f"f{i}" for i in range(10)])
print(float(model.predict(row)[0]))
