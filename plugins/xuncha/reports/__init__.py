"""Reports for consumers of the marts: the report 巡察工作数据报告 as one offline HTML page (html.py, charts.py,
data.py), the Excel workbook (workbook.py), the quarantine report page (quarantine_page.py), Data Docs made
offline (datadocs.py) and the Airflow UI plugin's app (web.py)."""
