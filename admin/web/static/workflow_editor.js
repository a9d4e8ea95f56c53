// The workflow editor (workflow_form.html): add and remove step and edge rows, keep the list of
// step keys the edge fields offer, and redraw the graph beside the form from the server's
// preview (POST data-graph-url with the form) as the user edits. No inline scripts (the CSP
// forbids them); the SVG comes from the server's own template, every text in it escaped there.
"use strict";

(function () {
  function wire(form) {
    const box = document.getElementById("wf-graph");
    const problems = document.getElementById("wf-problems");
    const keys = document.getElementById("wf-step-keys");
    let timer = null, seq = 0;

    function csrfToken() {
      const meta = document.querySelector('meta[name="csrf-token"]');
      return meta ? meta.content : "";
    }

    function refreshKeys() {
      const seen = new Set();
      keys.replaceChildren();
      form.querySelectorAll('input[name="step_key"]').forEach(function (input) {
        const key = input.value.trim();
        if (!key || seen.has(key)) return;
        seen.add(key);
        const option = document.createElement("option");
        option.value = key;
        keys.appendChild(option);
      });
    }

    function showProblems(found) {
      problems.replaceChildren();
      Object.keys(found).forEach(function (field) {
        const li = document.createElement("li");
        li.textContent = field + ": " + found[field];
        problems.appendChild(li);
      });
    }

    function redraw() {
      const mine = ++seq;
      fetch(form.dataset.graphUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
        body: new URLSearchParams(new FormData(form)),
      }).then(function (r) { return r.json(); }).then(function (body) {
        if (mine !== seq) return;  // an older answer arriving late
        const doc = new DOMParser().parseFromString(body.svg, "text/html");
        const svg = doc.querySelector("svg");
        if (svg) box.replaceChildren(document.adoptNode(svg));
        showProblems(body.problems || {});
        box.dataset.steps = body.steps;
        box.dataset.edges = body.edges;
      }).catch(function () { /* the last drawing stays; saving still checks everything */ });
    }

    function changed() {
      refreshKeys();
      clearTimeout(timer);
      timer = setTimeout(redraw, 250);
    }

    form.querySelectorAll("[data-add-row]").forEach(function (button) {
      button.addEventListener("click", function () {
        const name = button.dataset.addRow;
        const row = document.getElementById(name + "-template").content.firstElementChild.cloneNode(true);
        document.getElementById(name + "-rows").appendChild(row);
        const first = row.querySelector("input, select");
        if (first) first.focus();
        changed();
      });
    });
    form.addEventListener("click", function (event) {
      const button = event.target.closest("[data-remove-row]");
      if (!button) return;
      button.closest("tr").remove();
      changed();
    });
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("workflow-form");
    if (form && form.dataset.graphUrl) wire(form);
  });
})();
