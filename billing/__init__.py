"""Billing: tariffs, the pricing engine, CDRs and credit CDRs, finance exports and reports."""
