"""What a user runs beside the daemon: the reference client, benchmarks and the lossy-link emulator."""
