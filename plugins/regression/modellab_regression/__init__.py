"""ModelLab's built-in regression task plugin."""
