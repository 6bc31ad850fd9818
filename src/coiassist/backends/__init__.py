"""Answer backends: the one subpackage; see `registry` for the names."""
