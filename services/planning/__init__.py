"""The planning service.

The personal development plan (POP): goals, actions, agreement, revisions.
"""
