import time, pytest
from sqlalchemy import select
@pytest.mark.flow
def test_prof(prefect_harness, session, demo_store):
    from flows.monthly_cycle import monthly_cycle
    from flows.stages import archive_cleanup
    t=time.time(); ids = monthly_cycle(month="2026-11", store_codes=["S01"]); print("first", time.time()-t)
    t=time.time(); monthly_cycle(month="2026-11", store_codes=["S01"]); print("second", time.time()-t)
    t=time.time(); archive_cleanup(ids[0]); print("one subflow", time.time()-t)
    from prefect import flow
    @flow
    def empty(): return 1
    t=time.time(); empty(); print("empty flow", time.time()-t)
