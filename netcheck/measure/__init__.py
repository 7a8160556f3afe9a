"""The measure stage: the only code that sends packets."""
