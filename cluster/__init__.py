"""The project's test infrastructure: images built without a registry and the
single-node Kubernetes cluster the end-to-end tests run against."""
