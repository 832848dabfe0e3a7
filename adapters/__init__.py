"""Platform adapters. Each one is found by the core through the `connector.platforms` entry points."""
