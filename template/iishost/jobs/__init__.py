"""Work outside the request path: the runner Task Scheduler starts for each scheduled job."""
