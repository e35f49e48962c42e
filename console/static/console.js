// Light touches only: the pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  // a filter change submits the filter form at once
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    for (const field of form.querySelectorAll("select")) {
      field.addEventListener("change", () => form.requestSubmit());
    }
  }
  // a verdict is asked for once more: it writes labels the models learn from
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      const action = event.submitter ? event.submitter.value : "";
      if (!window.confirm(`Record the verdict "${action}" on this alert?`)) {
        event.preventDefault();
      }
    });
  }
});
