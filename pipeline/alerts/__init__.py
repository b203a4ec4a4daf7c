"""Alerts: match scored ads against saved searches and deliver the leads to their channels.

    ads.scored ──> SubscriptionIndex.matches ──> should_alert / record (AlertLog table)
                        (matching)                         │
                                                           ├─ at once ──> build_alert ──> alerts
                                                           └─ digest ──> DigestBuffer ──> alerts

`pipeline.alerts.matching` is pure (no Kafka, no faust): the stream app keeps `AlertLog` and
`DigestBuffer` in tables keyed by subscription id and calls its functions. Alerts are leads
for a human reviewer, never verdicts.
"""
