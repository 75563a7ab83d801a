"""Platform-neutral /papers handlers: (request, services) -> reply."""
