"""Test support: images built in Python, private container engines, a registry process."""
