"""``covo-port verify``: run a ported tree end to end and regenerate the reference report."""
