"""Tables the loans service owns (prefix `loan_`); they arrive with the loans issue."""
