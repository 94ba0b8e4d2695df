"""The autograder: each submission executed in a sandbox on a fresh store, its store graded on a
private copy, and per-student results.json, feedback.md and executed.ipynb plus a gradebook."""
