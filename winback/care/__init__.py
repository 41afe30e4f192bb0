"""Prevention: the care calendar (关怀日历) that brings active customers back before they cross
the red line: next maintenance, annual inspection, insurance expiry, warranty end, the follow-up
call after each repair order and the re-call after a resolved complaint."""
