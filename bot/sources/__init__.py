"""Paper sources: retrieval (I/O) in `retrieve`, parsing (pure) in one module per format."""
