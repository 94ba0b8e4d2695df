"""The one base of every error a user can fix: it prints as one line that says what to do, and the
command exits with code 2. Each tool subclasses it; none of them prints a traceback for it."""
from __future__ import annotations


class CourseError(Exception):
    exit_code = 2
