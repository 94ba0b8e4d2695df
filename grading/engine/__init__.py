"""The check engine: expectations (grading/expectations/*.yaml) -> check kinds -> one results model -> renderers.

`check` and `list` (command.py) drive it; run-course, the autograder and notebooks' self-checks call
grader.grade. It only reads a tracking store.
"""
