"""Reports for consumers of the marts: the Excel workbook (workbook.py) and the HTML report."""
