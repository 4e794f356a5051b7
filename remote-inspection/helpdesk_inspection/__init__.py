"""Remote site inspection (视频帮办 + 现场勘验): checklists, guided inspections, server-side recording."""
