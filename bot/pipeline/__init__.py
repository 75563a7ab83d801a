"""Pure decision steps of the data flow: merge, match, dedupe, rank, summarize, render."""
