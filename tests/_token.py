"""The suite's distinctive API token (see ``tests/conftest.py``: it must appear nowhere the suite leaves a trace)."""

SUITE_TOKEN = "cbk-suite-token-9f4e2d71-NEVER-IN-LOGS"
