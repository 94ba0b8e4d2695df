"""Support code for the course notebooks: where the tracking store lives and how to reach it."""
