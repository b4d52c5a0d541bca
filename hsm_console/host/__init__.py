"""What the workstation provides: settings, the keyring, the OS account, logs, data files."""
