"""Reports of a run: the text and JSON views of apply, and the diff of OUT against SRC."""
