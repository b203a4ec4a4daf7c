"""Sources of ads and the one producer path that publishes them to ``ads.raw``."""
