"""What the commands do, without printing: plan, execute, resume, restore, follow a run."""
