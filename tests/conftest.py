"""Fixtures for every test: the boiler emulator fixtures (see boiler/testing/pytest_plugin.py)."""

pytest_plugins = ["boiler.testing.pytest_plugin"]
