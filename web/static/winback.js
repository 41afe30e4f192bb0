/* winback: the little glue htmx needs here. No inline scripts anywhere (the CSP forbids them).
 * Everything works without JavaScript: the forms post and redirect, the progress pages refresh
 * through a <noscript> meta refresh. With htmx, some forms swap only what they changed and the
 * progress fragments poll. */
(function () {
  "use strict";
  // A partial update the server refused in a way htmx does not swap (403, 404, 500...):
  // send the same form the ordinary way, so the person sees the full error page as without JS.
  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.tagName === "FORM" && !elt.dataset.fallback) {
      elt.dataset.fallback = "1";
      HTMLFormElement.prototype.submit.call(elt);
    }
  });
  // "Select all" (the cycle page's bulk reassignment): ticks every box of that name on the page.
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (all.matches && all.matches("input[data-select-all]")) {
      var boxes = document.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]');
      Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
    }
  });
  // A button that destroys something asks first (data-confirm holds the question, translated).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // A form marked data-unsaved-warning (the plan): leaving the page with edits not yet sent
  // asks first. Its fields may sit outside it (form="id"), so changes are read from the form.
  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-unsaved-warning]");
    Array.prototype.forEach.call(forms, function (form) {
      var dirty = false;
      var mark = function (event) {
        if (event.target.form === form) { dirty = true; }
      };
      document.addEventListener("input", mark);
      document.addEventListener("change", mark);
      form.addEventListener("submit", function () { dirty = false; });
      window.addEventListener("beforeunload", function (event) {
        if (dirty) {
          event.preventDefault();
          event.returnValue = "";
        }
      });
    });
  });
  // A "print" button (the evaluation report): no javascript: links, the CSP forbids them.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();
