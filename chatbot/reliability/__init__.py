"""Reliability: the chat's load test (`manage.py loadtest`) and the limits that keep one socket from
starving the rest."""
