"""Interviews: the do-no-harm checklist, the trauma-informed flow, drafts and confirmed statements,
incidents, attachments and custody commitments."""
