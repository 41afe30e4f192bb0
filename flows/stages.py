"""One flow per stage of PROCESS.md; each takes a cycle id and is safe to run twice."""

from __future__ import annotations

from prefect import flow

from flows.common import HOOKS, apply_as_of
from tasks import archive, evaluation, notify, plans, screening, surveys


@flow(name="archive_cleanup", flow_run_name="archive cleanup, cycle {cycle_id}", **HOOKS)
def archive_cleanup(cycle_id: int, as_of: str | None = None) -> dict:
    """档案整理: normalize phones, flag bad phones and VINs, count excluded vehicles."""
    apply_as_of(as_of)
    return archive.clean_archive(cycle_id)


@flow(name="screen_targets", flow_run_name="screen targets, cycle {cycle_id}", **HOOKS)
def screen_targets(cycle_id: int, as_of: str | None = None) -> dict:
    """筛选调查对象: apply the red lines (at risk 6-12 months, lost >12 months)."""
    apply_as_of(as_of)
    return screening.screen(cycle_id)


@flow(name="analyze_profiles", flow_run_name="analyze profiles, cycle {cycle_id}", **HOOKS)
def analyze_profiles(cycle_id: int, as_of: str | None = None) -> int:
    """分析调研对象: distributions of the targets against the store's base."""
    apply_as_of(as_of)
    return screening.analyze(cycle_id)


@flow(name="assign_surveys", flow_run_name="assign surveys, cycle {cycle_id}", **HOOKS)
def assign_surveys(cycle_id: int, as_of: str | None = None) -> dict:
    """流失原因调查: one task per target, to advisors, due in one week; advisors notified."""
    apply_as_of(as_of)
    result = surveys.assign(cycle_id)
    notify.deliver()
    return result


@flow(name="tally_reasons", flow_run_name="tally reasons, cycle {cycle_id}", **HOOKS)
def tally_reasons(cycle_id: int, as_of: str | None = None) -> dict:
    """结果统计: reasons overall and by model, district, advisor, warranty."""
    apply_as_of(as_of)
    return surveys.tally(cycle_id)


@flow(name="draft_plan", flow_run_name="draft plan, cycle {cycle_id}", **HOOKS)
def draft_plan(cycle_id: int, as_of: str | None = None) -> int:
    """整改措施制定: a draft plan with one suggested measure per reason heard."""
    apply_as_of(as_of)
    return plans.draft(cycle_id)


@flow(name="execute_plan", flow_run_name="execute plan, cycle {cycle_id}", **HOOKS)
def execute_plan(cycle_id: int, as_of: str | None = None) -> dict:
    """措施执行: the approved plan's owners are told; the evaluation date is set."""
    apply_as_of(as_of)
    result = plans.execute(cycle_id)
    notify.deliver()
    return result


@flow(name="evaluate_cycle", flow_run_name="evaluate cycle {cycle_id}", **HOOKS)
def evaluate_cycle(cycle_id: int, as_of: str | None = None) -> int:
    """总结及效果评估: who came back, output value, per advisor against the target."""
    apply_as_of(as_of)
    result = evaluation.evaluate(cycle_id)
    notify.deliver()
    return result
