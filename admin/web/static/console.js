// shardcron console behaviour. No inline scripts (the CSP forbids them); everything is wired
// here from data-* attributes. Text from the server is always inserted with textContent.
"use strict";

(function () {
  const csrfToken = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // fetch() with the session cookie and the CSRF header on state-changing calls.
  function call(url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ "Accept": "application/json" }, opts.headers);
    const method = (opts.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrfToken();
    return fetch(url, opts);
  }

  // Texts the server translated for this page (<body data-texts>), by key; English as fallback.
  let texts = null;
  function text(key, fallback) {
    if (texts === null) {
      try { texts = JSON.parse(document.body.dataset.texts || "{}"); } catch (e) { texts = {}; }
    }
    return texts[key] || fallback;
  }

  // The console's one time format (admin/web/times.py): "2026-12-04 15:54:10 UTC+8", 24-hour,
  // whatever the browser's locale.
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function zoneLabel(offsetMinutes) {
    if (offsetMinutes === 0) return "UTC";
    const abs = Math.abs(offsetMinutes), rest = abs % 60;
    return "UTC" + (offsetMinutes > 0 ? "+" : "-") + Math.floor(abs / 60) + (rest ? ":" + pad(rest) : "");
  }
  function formatInstant(at) {
    return at.getFullYear() + "-" + pad(at.getMonth() + 1) + "-" + pad(at.getDate()) + " " +
      pad(at.getHours()) + ":" + pad(at.getMinutes()) + ":" + pad(at.getSeconds()) + " " + zoneLabel(-at.getTimezoneOffset());
  }
  function formatUtc(at) {
    return at.getUTCFullYear() + "-" + pad(at.getUTCMonth() + 1) + "-" + pad(at.getUTCDate()) + " " +
      pad(at.getUTCHours()) + ":" + pad(at.getUTCMinutes()) + ":" + pad(at.getUTCSeconds()) + " UTC";
  }

  // <time datetime="...Z"> -> the viewer's local time; the UTC time stays as the tooltip.
  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.localized || el.hasAttribute("data-zone-fixed")) return;
      const at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      el.title = formatUtc(at);
      el.textContent = formatInstant(at);
      el.dataset.localized = "1";
    });
  }

  // <form data-confirm="Delete job x?">: ask first.
  function wireConfirms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // Cron preview: <ul data-preview-url> next to the schedule fields of the job form.
  function wirePreview() {
    const list = document.querySelector("[data-preview-url]");
    if (!list) return;
    const form = list.closest("form");
    const fields = ["schedule_type", "schedule_conf", "timezone", "jitter_s"].map(function (n) { return form.elements[n]; });
    const calendars = form.elements["calendars"];
    let timer = null, seq = 0;
    function show(items, isError) {
      list.replaceChildren();
      list.classList.toggle("error", !!isError);
      items.forEach(function (item) {
        const li = document.createElement("li");
        if (isError) { li.textContent = item; } else {
          const t = document.createElement("time");
          t.setAttribute("datetime", item.utc);
          t.textContent = item.local;
          li.appendChild(t);
          if (item.skipped) li.classList.add("skipped");
        }
        list.appendChild(li);
      });
    }
    function refresh() {
      const params = new URLSearchParams();
      fields.forEach(function (f) { if (f) params.set(f.name, f.value); });
      if (list.dataset.jobId) params.set("job_id", list.dataset.jobId);
      if (calendars) params.set("calendars", Array.from(calendars.selectedOptions).map(function (o) { return o.value; }).join(","));
      const mine = ++seq;
      call(list.dataset.previewUrl + "?" + params.toString()).then(function (r) { return r.json(); }).then(function (body) {
        if (mine !== seq) return;  // an older answer arriving late
        if (body.error) show([body.error], true);
        else if (!body.fire_times.length) show([body.note || text("no_upcoming_fire", "no upcoming fire")], true);
        else {
          show(body.fire_times, false);
          if (body.skipped_note) {
            const li = document.createElement("li");
            li.className = "note";
            li.textContent = body.skipped_note;
            list.appendChild(li);
          }
        }
      }).catch(function () { if (mine === seq) show([text("preview_unavailable", "preview unavailable")], true); });
    }
    if (calendars) calendars.addEventListener("change", refresh);
    fields.forEach(function (f) {
      if (!f) return;
      f.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
      f.addEventListener("change", refresh);
    });
    refresh();
  }

  // Schedule help text follows the chosen schedule type.
  function wireScheduleHelp() {
    const select = document.querySelector("select[data-schedule-help]");
    if (!select) return;
    const help = document.getElementById(select.dataset.scheduleHelp);
    const texts = JSON.parse(select.dataset.helpTexts || "{}");
    function update() { if (help) help.textContent = texts[select.value] || ""; }
    select.addEventListener("change", update);
    update();
  }

  // Trigger dialog: buttons with data-trigger-url open one shared <dialog>.
  function wireTriggerDialog() {
    const dialog = document.getElementById("trigger-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;  // links fall back to the trigger page
    const form = dialog.querySelector("form");
    const shardFields = dialog.querySelector("[data-shard-fields]");
    function syncShard() {
      const one = form.elements["target"].value === "shard";
      shardFields.classList.toggle("hidden", !one);
    }
    form.querySelectorAll('input[name="target"]').forEach(function (r) { r.addEventListener("change", syncShard); });
    document.querySelectorAll("a[data-trigger-url]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        form.action = link.dataset.triggerUrl;
        dialog.querySelector("[data-job-name]").textContent = link.dataset.jobName;
        form.elements["param"].value = link.dataset.jobParam || "";
        syncShard();
        dialog.showModal();
      });
    });
    dialog.querySelectorAll("[data-close]").forEach(function (b) { b.addEventListener("click", function () { dialog.close(); }); });
  }

  // Auto refresh: an element with data-autorefresh="ms" is replaced by its fresh copy from the
  // same page while it says something is still running (the server drops the attribute then).
  function wireAutoRefresh() {
    const el = document.querySelector("[data-autorefresh]");
    if (!el || !el.id) return;
    const every = Math.max(1000, parseInt(el.dataset.autorefresh, 10) || 3000);
    setTimeout(function () {
      // A request a busy server never answers must not end the refresh: give up on it and ask again.
      const abort = new AbortController();
      const timer = setTimeout(function () { abort.abort(); }, 10000);
      call(window.location.href, { headers: { "Accept": "text/html" }, signal: abort.signal }).then(function (r) { return r.text(); }).then(function (html) {
        clearTimeout(timer);
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
        // An answer without the element (an error page from a busy server) is not the end of
        // what is running: ask again later.
        if (!fresh) { setTimeout(wireAutoRefresh, every); return; }
        const adopted = document.importNode(fresh, true);
        el.replaceWith(adopted);
        localizeTimes(adopted);
        wireConfirms(adopted);
        wireAutoRefresh();
        wireLiveRuns();  // the fresh list may name active runs to poll instead
      }).catch(function () { clearTimeout(timer); setTimeout(wireAutoRefresh, every); });
    }, every);
  }

  // Job pickers: <input data-suggest-url list="id"> fills its <datalist> with the names of the
  // viewer's jobs that contain what was typed (the server scopes them to the viewer's groups).
  function wireJobSuggest() {
    document.querySelectorAll("input[data-suggest-url]").forEach(function (input) {
      const list = document.getElementById(input.getAttribute("list"));
      if (!list) return;
      const form = input.closest("form");
      let timer = null, seq = 0;
      function refresh() {
        const params = new URLSearchParams({ q: input.value.trim() });
        const group = form && form.elements["group_id"];
        if (group && group.value) params.set("group_id", group.value);
        const mine = ++seq;
        call(input.dataset.suggestUrl + "?" + params.toString()).then(function (r) { return r.json(); }).then(function (body) {
          if (mine !== seq || !body.jobs) return;  // an older answer arriving late, or an error
          list.replaceChildren();
          body.jobs.forEach(function (job) {
            const option = document.createElement("option");
            option.value = job.name;
            option.label = job.group + " · #" + job.id;
            list.appendChild(option);
          });
        }).catch(function () { /* no suggestions this time; typing on still works */ });
      }
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 200); });
      input.addEventListener("focus", refresh, { once: true });
    });
  }

  // Live runs list: <div data-live-url> names the active runs on the page; their state is asked
  // for every few seconds, and when one changed the list is fetched again from the same address
  // (so the filter stays). It stops once the answer says none is active any more.
  function wireLiveRuns() {
    const area = document.querySelector("[data-live-url]");
    if (!area || !area.id) return;
    const every = Math.max(1000, parseInt(area.dataset.liveEvery, 10) || 2000);
    const shown = {};
    area.querySelectorAll("tr[data-run-id]").forEach(function (row) {
      shown[row.dataset.runId] = row.dataset.status + " " + (row.dataset.progress || "");
    });
    function reload() {
      call(window.location.href, { headers: { "Accept": "text/html" } }).then(function (r) { return r.text(); }).then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(area.id);
        if (!fresh) { setTimeout(poll, every); return; }
        const adopted = document.importNode(fresh, true);
        area.replaceWith(adopted);
        localizeTimes(adopted);
        wireConfirms(adopted);
        wireLiveRuns();
        wireAutoRefresh();
      }).catch(function () { setTimeout(poll, every); });
    }
    function poll() {
      const abort = new AbortController();
      const timer = setTimeout(function () { abort.abort(); }, 10000);
      call(area.dataset.liveUrl, { signal: abort.signal }).then(function (r) { return r.json(); }).then(function (body) {
        clearTimeout(timer);
        if (!body.runs) { setTimeout(poll, every); return; }
        const changed = body.runs.some(function (run) {
          const now = run.status + " " + (run.progress_done === null ? "" : run.progress_done) + "/" + (run.progress_total || "");
          return shown[String(run.id)] !== now;
        }) || body.runs.length !== Object.keys(shown).length;
        if (changed) reload();
        else if (body.active) setTimeout(poll, every);
      }).catch(function () { clearTimeout(timer); setTimeout(poll, every); });
    }
    setTimeout(poll, every);
  }

  // Live log tail: <pre data-log-url> polls ?from_line=N until the executor says isEnd.
  function wireLogTail() {
    const pre = document.querySelector("pre[data-log-url]");
    if (!pre) return;
    const state = document.getElementById("log-state");
    let next = parseInt(pre.dataset.fromLine || "1", 10);
    function say(text) { if (state) state.textContent = text; }
    function poll() {
      call(pre.dataset.logUrl + "?from_line=" + next).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
      }).then(function (res) {
        const body = res.body;
        if (!res.ok) {
          say((body.error && body.error.message) || text("log_unavailable", "log unavailable"));
          // 502: the executor did not answer this time; anything else will not change by waiting.
          if (res.status === 502) setTimeout(poll, 3000);
          return;
        }
        if (body.content) {
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.appendChild(document.createTextNode(body.content));
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        if (body.to_line >= next) next = body.to_line + 1;
        if (body.is_end) { say(body.note || text("log_complete", "Log complete.")); pre.dataset.ended = "1"; return; }
        say(text("log_following", "Following the log… (line {line})").replace("{line}", String(next - 1)));
        setTimeout(poll, 1000);
      }).catch(function () { say(text("log_retrying", "log unavailable; retrying")); setTimeout(poll, 3000); });
    }
    poll();
  }

  // The viewer's IANA zone, for the server's idea of "today" on the dashboard.
  function rememberZone() {
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
        document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
      }
    } catch (e) { /* no Intl: the server uses UTC */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    rememberZone();
    localizeTimes(document);
    wireConfirms(document);
    wirePreview();
    wireScheduleHelp();
    wireTriggerDialog();
    wireAutoRefresh();
    wireLiveRuns();
    wireJobSuggest();
    wireLogTail();
  });
})();
