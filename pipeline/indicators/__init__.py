"""Risk indicators: leads for a human reviewer, each with the evidence that raised it."""
