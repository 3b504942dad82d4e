"""Authentication and authorisation shared by the gateway and the services."""
