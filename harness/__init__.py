"""Code both the product's scripts and the tests use: the Pulumi program run under Pulumi's mocks
(`harness.offline`), so neither scripts/ nor tests/ imports the other for it."""
