"""The intake service: clients, consents, entry check, career question, assessments,
sessions and hours budget, and the decision on the case."""
