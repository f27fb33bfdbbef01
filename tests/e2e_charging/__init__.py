"""End-to-end charging over loopback: an eMSP peer, our live server, a simulated charger."""
