"""`python -m covo_port`: the covo-port command line."""

from covo_port.cli import main

main()
