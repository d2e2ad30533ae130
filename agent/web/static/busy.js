// Forms marked data-busy="…" (uploads and previews that take a few seconds): show that the server
// is working and stop a second submit. Without JavaScript the forms work the same, just silently.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = form.dataset && form.dataset.busy;
  if (!message) return;
  const button = form.querySelector("button:not([type]), button[type=submit]");
  if (!button) return;
  button.dataset.idle = button.textContent;
  // Disabled after this tick, so the browser still sends the submit the click started.
  setTimeout(() => { button.disabled = true; button.textContent = message; button.setAttribute("aria-busy", "true"); }, 0);
});

// Back to a page from the history cache: the buttons work again.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("button[aria-busy]").forEach((button) => {
    button.disabled = false;
    button.textContent = button.dataset.idle || button.textContent;
    button.removeAttribute("aria-busy");
  });
});
