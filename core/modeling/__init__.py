"""Building blocks for tabular task plugins: feature preparation, encoders, persistence.

Plugins import these; core itself never imports a plugin.
"""
