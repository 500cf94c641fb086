"""The Airflow UI plugin's pages that need no Airflow to render (xuncha.orchestration.ui, called directly as the
library tests do): the metric dictionary 指标说明 as a page."""

from __future__ import annotations


def test_the_metric_dictionary_is_a_page_of_its_own_with_every_mart_and_list():
    from xuncha.metrics import dictionary
    from xuncha.orchestration import ui

    page = ui.metric_dictionary()
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page     # offline, fetches nothing
    for m in dictionary.marts().values():
        assert f"<code>{m.table}</code>" in page, m.name
    assert "整改台账" in page and "<table>" in page
