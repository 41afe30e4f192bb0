"""Churn analytics: visit-history models, churn alarms by segment, red-line crossings."""
