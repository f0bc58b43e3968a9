"""The job engine: job rows, claiming, leases, the worker loop and schedules."""
