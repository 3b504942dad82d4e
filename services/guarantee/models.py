"""Tables the guarantee service owns (prefix `gt_`); they arrive with the guarantee issue."""
