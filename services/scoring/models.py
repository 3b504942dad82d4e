"""Tables the scoring service owns (prefix `sc_`); they arrive with the scoring issue."""
