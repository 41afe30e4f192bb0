"""Chinese texts per area: each module here defines ``ZH = {english: chinese}``; web.i18n merges them."""
