"""riskmon: the command line and settings over the schemas, detectors and runtimes."""

__version__ = "0.1.0"
