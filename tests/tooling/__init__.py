"""Tests of the learner tooling: progress, watch, show, hint, reset, the reporting."""
