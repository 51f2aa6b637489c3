"""Browser tests of the web console in headless Chromium."""
