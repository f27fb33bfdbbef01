"""The credentials module: registering, updating and unregistering partner connections."""
