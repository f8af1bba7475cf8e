"""One controller per domain: projects, datasets, runs, artifacts, reports, plugins."""
