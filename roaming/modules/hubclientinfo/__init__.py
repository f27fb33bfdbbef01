"""OCPI hubclientinfo module (receiver): a hub tells us which parties it connects us with."""
