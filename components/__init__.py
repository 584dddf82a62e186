"""The Datalyptica platform's building blocks: settings, the service convention, and one component per layer."""
