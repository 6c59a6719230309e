"""The daemon: jobs from config.toml, cron on trading calendars, APScheduler."""
