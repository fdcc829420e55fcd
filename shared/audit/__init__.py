"""Audit: what every service records of reads of personal data, and (see the modules)
the tamper-evident history auditors replay."""
