"""What the two edges share: the JSON API (``api/``) and the staff pages (``web/``) are
siblings that both stand on this package and never import each other
(tests/test_layers.py checks it).

* ``edge.session``  the request's session (one request, one transaction)
* ``edge.users``    the person asking (cookie or API token), roles, their stores, log-in and log-out
* ``edge.locale``   the language of the request (pages default to Chinese, the API to English)
* ``edge.xlsx``     a workbook download (the one place its headers are written)
* ``edge.uploads``  an uploaded file saved to a temporary file
* ``edge.actions``  what a page and an API call both do beyond one service call
  (approve a plan and start its execution, the evaluation workbook, the import errors workbook)
"""
