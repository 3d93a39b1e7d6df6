#!/usr/bin/env python3
"""skip.py REASON... — a test that cannot run in this build: says why, skips.

Registered under the real test's name where a build cannot run it (a cross
build under QEMU, say), so every build lists the same tests and a skipped
one gives its reason in the log. Exit 77 is Meson's SKIP.
"""
import sys

print("skipped: " + " ".join(sys.argv[1:]))
sys.exit(77)
