"""The plugin test kit: a pytest plugin (entry point ``pytest11``) and plain checks.

- :mod:`modellab.testing.plugin`: the ``modellab_*`` fixtures (plugin under test,
  its registry, a throwaway home, one-call runs, the whole contract).
- :mod:`modellab.testing.contracts`: one check per hook contract, as plain functions.
- :mod:`modellab.testing.runs`: :func:`~modellab.testing.runs.run_model`, a run end to end.
- :mod:`modellab.testing.check`: :func:`~modellab.testing.check.check_plugin`, all of it.

This module imports nothing: pytest loads the plugin in every session.
"""
