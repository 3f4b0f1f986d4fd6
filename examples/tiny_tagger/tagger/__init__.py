"""A tiny audio tagger: log-power features, a Conv1d + Linear model, one training step."""
