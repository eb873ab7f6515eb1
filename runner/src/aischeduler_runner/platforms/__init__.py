"""One module per platform API (spec §4.2); each returns an `Outcome` or raises."""
