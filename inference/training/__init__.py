"""Training, export and evaluation: run from the command line, never imported by serving or analysis."""
