"""The static site: build (read and validate, then write), checks, serve and publish. Never imports torch."""
