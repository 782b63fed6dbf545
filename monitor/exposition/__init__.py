"""What Prometheus scrapes: /monitor/metrics, the latest value of every live series, and the app's own figures.

naming.py maps a series (metric, labels, host) to its Prometheus name and
labels; selectors.py reads `match[]`; series.py turns the catalog's latest
values into metric families; app.py holds the web process's own counters
(prometheus-client, multiprocess-aware: multiprocess.py) and the figures read
from the database; views.py answers the scrape.
"""
