"""Building blocks for tabular task plugins: feature preparation, encoders, XGBoost and
model files that load without running code.

The classification and regression plugins import these; core never does.
"""
