"""The dashboard: fleet, host, server and explorer views served by Django, charts drawn by uPlot in the browser."""
