"""ModelLab's built-in classification task plugin."""
