"""adwatch stream processing: enrichment, indicators, linking, sinks, alerting and the CLI."""
