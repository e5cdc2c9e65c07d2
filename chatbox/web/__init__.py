"""The browser client: a static single-page app at `/` that uses only the public API (docs/reference/)."""
