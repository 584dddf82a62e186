"""A real Pulumi engine for the tests: the CLI and the docker and random providers, built from Go modules."""
