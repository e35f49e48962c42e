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
      const action = event.submitter ? event.submitter.textContent.trim() : "";
      if (!window.confirm(`${form.dataset.confirm} ${action}`)) {
        event.preventDefault();
      }
    });
  }
  // a whole id to the clipboard, from the button beside it
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.classList.add("copied");
        setTimeout(() => button.classList.remove("copied"), 1200);
      } catch (error) {
        window.prompt("", button.dataset.copy);
      }
    });
  }
  // the language switch goes as soon as it is chosen
  for (const field of document.querySelectorAll("form.lang select")) {
    field.addEventListener("change", () => field.form.requestSubmit());
  }
});
