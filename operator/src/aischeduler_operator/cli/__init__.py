"""`kubectl asched` (console script `kubectl-asched`, so kubectl finds it as a plugin)."""
