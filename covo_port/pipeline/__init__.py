"""The tree pipeline: walk SRC, rewrite file by file (in worker processes), write OUT atomically
with its git history, patch series and manifest."""
