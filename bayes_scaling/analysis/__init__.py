"""Questions asked of fitted laws: planning a budget, the allocation allowing for the discrepancy, comparing and
pairing two fits."""
