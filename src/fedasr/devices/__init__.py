"""Device heterogeneity: tiers and budgets, availability, the simulated clock."""
