"""The running service: aiohttp app, channels, dispatcher, storage, workers and the CLI."""
