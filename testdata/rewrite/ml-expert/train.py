"""Trains a small gradient-boosting model on the CSV and saves it."""
import sys

import joblib
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

frame = pd.read_csv(sys.argv[1])
model = HistGradientBoostingRegressor(max_iter=60, random_state=0)
model.fit(frame.drop(columns="y"), frame["y"])
joblib.dump(model, sys.argv[2])
print("trained, R^2 =", round(model.score(frame.drop(columns="y"), frame["y"]), 3))
