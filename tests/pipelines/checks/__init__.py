"""Tests of the check registry and its runners."""
