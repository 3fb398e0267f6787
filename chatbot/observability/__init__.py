"""What operators watch: Prometheus metrics (web and worker) and the /healthz probe."""
