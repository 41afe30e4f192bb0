"""Existing complaints become cases: each survey task's complaint (and its answer, as the
resolution) is copied into complaint_cases; a re-call the care calendar already made is linked.

Revision ID: 0042
Revises: 0041
Create Date: 2026-11-30 00:20:00
"""

from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The answerer owns the answered ones; an open one waits for the manager to name an owner.
    op.execute(
        """
        INSERT INTO complaint_cases (store_id, task_id, cycle_id, customer_id, vehicle_id, complaint,
            opened_at, owner_id, status, resolution, resolved_at, resolved_by_id)
        SELECT t.store_id, t.id, t.cycle_id, t.customer_id, g.vehicle_id, t.complaint,
            COALESCE(t.closed_at, t.draft_saved_at, t.assigned_at), t.complaint_answered_by_id,
            CASE WHEN t.complaint_answer IS NULL THEN 'open' ELSE 'resolved' END,
            t.complaint_answer, t.complaint_answered_at, t.complaint_answered_by_id
        FROM survey_tasks t JOIN targets g ON g.id = t.target_id
        WHERE t.complaint IS NOT NULL AND t.complaint <> ''
          AND NOT EXISTS (SELECT 1 FROM complaint_cases c WHERE c.task_id = t.id)
        """
    )
    op.execute(
        """
        UPDATE complaint_cases SET recall_item_id = (
            SELECT MIN(i.id) FROM care_items i
            WHERE i.kind = 'complaint_recall' AND i.source_id = complaint_cases.task_id
        )
        WHERE recall_item_id IS NULL
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM complaint_cases")
