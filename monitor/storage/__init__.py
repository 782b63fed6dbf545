"""How samples are stored and read back: inserts, latest values, series, retention."""
