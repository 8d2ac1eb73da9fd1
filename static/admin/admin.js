// Changelist bulk actions: "select all" and the "N of M selected" counter.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("changelist-form");
  if (!form) return;
  const toggle = document.getElementById("action-toggle");
  const boxes = Array.from(form.querySelectorAll("input.action-select"));
  const counter = form.querySelector(".action-counter");
  const update = () => {
    const ticked = boxes.filter((b) => b.checked);
    boxes.forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
    if (counter) counter.textContent = `${ticked.length} of ${boxes.length} selected`;
    if (toggle) toggle.checked = boxes.length > 0 && ticked.length === boxes.length;
  };
  if (toggle) toggle.addEventListener("change", () => { boxes.forEach((b) => { b.checked = toggle.checked; }); update(); });
  boxes.forEach((b) => b.addEventListener("change", update));
  update();
});
