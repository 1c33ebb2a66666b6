"""The daemon shell: transports, the generation worker, discovery and the composition root."""
