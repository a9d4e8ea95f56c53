"""The admin's service layer: validation and transactions shared by the console and the REST API.

Services take an explicit `Actor` (who is acting) and never touch `flask.request`.
"""
