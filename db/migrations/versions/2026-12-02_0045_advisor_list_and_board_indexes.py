"""The advisor's list and the progress board read the task table's index alone.

The advisor's list (``surveys.lists._my_tasks_query``) sorts an advisor's open tasks by their
call-back, deadline, band and spend; their "my day" counts read their status, deadlines and
close times. With an index on ``(assignee_id, status, due_at)`` PostgreSQL fetched each of the
~1,800 tasks of an advisor from the table, scattered over ~670 pages (5.2 ms of the server's
time per list, at 50,000 open tasks); the wider index holds every column these read, so
they are read from it alone (2.3 ms). It replaces the narrower one, which it begins with.

The progress board counts a cycle's tasks per advisor and status, and the overdue ones: the
cycle's whole table scanned and hashed (39 ms at 50,000 tasks) becomes an ordered read of the
index ``(cycle_id, assignee_id, status, due_at)`` (16 ms).

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-02 00:40:00
"""

from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

ADVISOR_LIST = [
    "assignee_id",
    "status",
    "due_at",
    "follow_up_at",
    "band",
    "total_spend",
    "closed_at",
    "id",
]


def upgrade() -> None:
    op.create_index("ix_survey_tasks_advisor_list", "survey_tasks", ADVISOR_LIST)
    op.drop_index("ix_survey_tasks_assignee_status_due", table_name="survey_tasks")
    op.create_index(
        "ix_survey_tasks_cycle_board", "survey_tasks", ["cycle_id", "assignee_id", "status", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_survey_tasks_cycle_board", table_name="survey_tasks")
    op.create_index(
        "ix_survey_tasks_assignee_status_due", "survey_tasks", ["assignee_id", "status", "due_at"]
    )
    op.drop_index("ix_survey_tasks_advisor_list", table_name="survey_tasks")
