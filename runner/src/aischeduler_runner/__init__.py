"""assistant-scheduler runner: calls one AI assistant or workflow and reports the result."""

__version__ = "0.1.0"
