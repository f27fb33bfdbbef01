"""Pushing our changes to partners: a transactional outbox, its delivery workers and sweeper.

``services`` records changes (in the caller's transaction), ``delivery`` sends them in order per
partner, ``payloads`` builds each request from the object as it is at sending time, ``sweeper``
recovers lost nudges and dead workers, ``tasks`` holds the Celery tasks and ``stats`` the hourly
delivery figures behind the partner health dashboard.
"""
