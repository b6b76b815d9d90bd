"""The HomeIQ demo: a real Home Assistant on a recorded home (scripts/develop)."""
