"""ModelLab's built-in ranking task plugin (templates arrive with the ranking issue)."""
