"""The followup service.

Aftercare: check-ins, contacts, action checks, bottlenecks, outcomes, feedback.
"""
