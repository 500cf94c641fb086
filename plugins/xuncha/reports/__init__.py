"""Reports: what consumers of the marts read.

Owns the report 巡察工作数据报告 as one offline HTML page (`html`, `charts`, `data`), the Excel workbook
(`workbook`, its charts `workbook_charts`), the drill-down from a figure to the list behind it
(`drill`, templates/drill.js), the quarantine report page (`quarantine_page`) and Data Docs made offline (`datadocs`). May import
the root definitions, `warehouse/` and `metrics/`; the Airflow UI serves these pages through `orchestration.ui`.
"""
