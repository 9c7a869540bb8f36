"""One module per part; each section of the write-up is one runner function."""
