"""assistant-scheduler operator: AssistantSchedule → CronJob / Job, status and run history."""
