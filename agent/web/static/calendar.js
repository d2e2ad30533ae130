// The calendar page. Everything works without JavaScript (a skip is two taps: "Skip", then "Skip this post");
// with it, skipping asks once more in a dialog, and a link to a slot or a day ("#slot-…", "#add-…") opens it.
document.addEventListener("submit", (event) => {
  const button = event.submitter || event.target.querySelector("button[data-confirm]");
  const question = button && button.dataset ? button.dataset.confirm : null;
  if (question && !window.confirm(question)) event.preventDefault();
});

function openTarget() {
  if (!location.hash) return;
  const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  if (target.tagName === "DETAILS") target.open = true;
  target.classList.add("cal-focus");
  target.scrollIntoView({ block: "center" });
}
// A refused change: its form is open again with the reason beside it; bring it into view.
function showRefusal() {
  const refusal = document.querySelector(".cal-error");
  if (refusal) refusal.scrollIntoView({ block: "center" });
}
window.addEventListener("DOMContentLoaded", () => { openTarget(); showRefusal(); });
window.addEventListener("hashchange", openTarget);
