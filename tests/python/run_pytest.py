"""Runs the Python binding's pytest suite; exit code 77 (meson's "skipped") when pytest or numpy is
missing, so a machine without them skips instead of failing."""
import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print("skipping the Python binding tests: %s" % e)
    sys.exit(77)

sys.exit(pytest.main(sys.argv[1:]))
