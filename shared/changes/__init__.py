"""Four eyes on the rules: a rule-changing write by an operator becomes a pending change that
another operator approves (then it runs) or rejects.

Neutral ground, like `shared.changefeed`: every service proposes here and the gateway decides,
and nothing here imports a service. A service declares its governed actions as `ChangeKind`s
(`services/<service>/changes.py`); the composition roots hand them to the gateway. This
package imports nothing at its top, so the problem catalogue can read `problem_types` alone.
"""
