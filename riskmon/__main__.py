"""`python -m riskmon`: the same command line as the `riskmon` script."""

from riskmon.cli import main

main()
