"""The charger gateway: how we talk to charge points (the port) and a simulated fleet of them."""
