"""Deployment tests: systemd units, installers, example configs."""
