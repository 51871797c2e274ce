"""Evaluation: SLIs fetched from a source and turned into one result per SLO instance per tick.

Owns ``evaluator`` (SLOs × source → :class:`InstanceResult`), ``engine`` (source + evaluator +
tick), ``health`` (down while every SLO evaluation fails), ``scheduler`` (the APScheduler job),
``report`` (results as JSON), ``slostate`` (results as ``sloguard_slo_*`` gauges),
``history`` (an instance's budget and burn rates over time; ``historyread`` asks the source) and
``selfmetrics``. May import: ``slo``, ``sources``,
``conventions``, ``errors``, ``durations``. Never ``alerting``: the daemon hands results on.
"""
