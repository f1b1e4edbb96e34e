// Mimecast API Configuration panel. Plain JavaScript, no framework, no
// network access beyond this app: every URL is relative, because QRadar
// serves the app under /console/plugins/<id>/app_proxy/.
(function () {
  "use strict";

  const POLL_MS = 4000;
  const QRADAR_POLL_MS = 10000;
  const RUNS_SHOWN = 40;
  const SECRET_FIELDS = ["client_secret", "app_key", "access_key", "secret_key"];
  const CREDENTIAL_FIELDS = {
    "2.0": { plain: ["client_id"], secret: ["client_secret"] },
    "1.0": { plain: ["app_id"], secret: ["app_key", "access_key", "secret_key"] },
  };
  const PALETTE = {
    light: ["#6929c4", "#1192e8", "#005d5d", "#9f1853", "#198038", "#002d9c", "#ee538b", "#b28600", "#009d9a", "#012749", "#8a3800", "#a56eff"],
    dark: ["#8a3ffc", "#33b1ff", "#007d79", "#ff7eb6", "#6fdc8c", "#4589ff", "#d12771", "#d2a106", "#08bdba", "#bae6ff", "#ba4e00", "#d4bbff"],
  };

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // ---- DOM helpers -------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svgEl(tag, attrs, ...children) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttrs(e, attrs);
    for (const c of children) if (c) e.append(c);
    return e;
  }

  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k === "class") e.setAttribute("class", v);
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function icon(path) {
    return svgEl("svg", { class: "icon", viewBox: "0 0 16 16", "aria-hidden": "true", focusable: "false" }, svgEl("path", { d: path }));
  }

  // ---- Theme -------------------------------------------------------------

  // QRadar appends ?ui=new&theme=... to the first URL only; the server keeps
  // it in the session, and this keeps it for the tab in case cookies don't.
  function themeFrom(v) {
    v = (v || "").toLowerCase();
    if (v.includes("dark") || v === "g90" || v === "g100") return "dark";
    if (v.includes("light") || v === "white" || v === "g10" || v === "default") return "light";
    return "";
  }
  (function applyTheme() {
    const fromURL = themeFrom(new URLSearchParams(location.search).get("theme"));
    try {
      if (fromURL) sessionStorage.setItem("mcq-theme", fromURL);
      const kept = fromURL || sessionStorage.getItem("mcq-theme");
      if (kept) document.documentElement.dataset.theme = kept;
    } catch (e) { /* storage blocked: the server's choice stands */ }
  })();
  const theme = () => (document.documentElement.dataset.theme === "dark" ? "dark" : "light");

  // ---- API ---------------------------------------------------------------

  let csrfToken = ($('meta[name="csrf-token"]') || {}).content || "";

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || "HTTP " + status);
      this.status = status;
      this.fields = (body && body.fields) || {};
    }
  }

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return "";
  }

  async function refreshToken() {
    const r = await fetch("api/csrf", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.ok) csrfToken = (await r.json()).token;
  }

  async function api(method, path, body, retried) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRF-Token"] = csrfToken;
      // QRadar refuses app requests without its own token when the
      // manifest turns use_qradar_csrf on.
      const q = cookie("QRadarCSRF");
      if (q) headers["QRadarCSRF"] = q;
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, { error: "the app cannot be reached (" + e.message + ")" });
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    // The session may have expired while the page was open: fetch a fresh
    // token once and repeat the request.
    if (res.status === 403 && !retried && data && /CSRF/.test(data.error || "")) {
      await refreshToken();
      return api(method, path, body, true);
    }
    if (!res.ok) throw new ApiError(res.status, data || { error: "HTTP " + res.status + " " + res.statusText });
    return data;
  }

  // ---- Formatting --------------------------------------------------------

  const numberFmt = new Intl.NumberFormat();
  const fmtNum = (n) => numberFmt.format(n || 0);
  const fmtAbs = (d) => d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });

  function fmtRel(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    const diff = d.getTime() - Date.now();
    const abs = Math.abs(diff);
    let text;
    if (abs < 45 * 1000) text = diff < 0 ? "just now" : "in a few seconds";
    else {
      const units = [[86400e3, "day"], [3600e3, "h"], [60e3, "min"]];
      let [ms, unit] = units[units.length - 1];
      for (const u of units) if (abs >= u[0]) { [ms, unit] = u; break; }
      const n = Math.round(abs / ms);
      const label = unit === "day" ? (n === 1 ? "day" : "days") : unit;
      text = diff < 0 ? n + " " + label + " ago" : "in " + n + " " + label;
    }
    return { text, title: fmtAbs(d) };
  }

  function timeCell(iso, empty) {
    const r = fmtRel(iso);
    if (!r) return el("td", { class: "muted" }, empty);
    return el("td", {}, el("time", { datetime: iso, title: r.title }, r.text));
  }

  function scheduleText(s) {
    if (s === "* * * * *") return "every minute";
    if (s === "0 * * * *") return "every hour";
    let m = /^\*\/(\d+) \* \* \* \*$/.exec(s);
    if (m) return "every " + m[1] + " minutes";
    m = /^(\d+) \*\/(\d+) \* \* \*$/.exec(s);
    if (m) return "every " + m[2] + " hours";
    return "on cron " + s;
  }

  // Stream labels come from the form's checkboxes, rendered by the server
  // from the list of supported streams.
  const STREAMS = $$('#f-streams input[name="streams"]').map((cb) => ({
    name: cb.value,
    label: $('label[for="' + cb.id + '"]').textContent.trim(),
    isDefault: cb.hasAttribute("data-default"),
    backfillDays: Number(cb.dataset.backfillDays || 0), // 0: cannot be re-collected
  }));
  const streamLabel = (name) => (STREAMS.find((s) => s.name === name) || { label: name }).label;
  const backfillDays = (name) => (STREAMS.find((s) => s.name === name) || { backfillDays: 0 }).backfillDays;
  function streamColor(name) {
    const i = STREAMS.findIndex((s) => s.name === name);
    const p = PALETTE[theme()];
    return p[(i < 0 ? p.length - 1 : i) % p.length];
  }

  function deriveIdentifier(name) {
    const words = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
    if (words[0] !== "mimecast") words.unshift("mimecast");
    return words.join("-").slice(0, 64).replace(/-+$/, "");
  }

  // ---- Notifications -----------------------------------------------------

  function toast(kind, title, text) {
    const close = el("button", { type: "button", "aria-label": "Dismiss notification" }, "×");
    const t = el("div", { class: "notification notification-" + kind + " toast" },
      el("div", {}, el("strong", {}, title), text ? " " + text : ""), close);
    close.addEventListener("click", () => t.remove());
    $("#toasts").append(t);
    setTimeout(() => t.remove(), kind === "error" ? 15000 : 7000);
  }

  function banner(text) {
    const b = $("#app-banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  // ---- Confirmation dialog -------------------------------------------------

  function confirmDialog({ label, title, body, ok, danger }) {
    const d = $("#confirm-dialog");
    $("#confirm-label").textContent = label || "Confirm";
    $("#confirm-title").textContent = title;
    $("#confirm-body").textContent = body;
    const okBtn = $("#confirm-ok");
    okBtn.textContent = ok || "Confirm";
    okBtn.className = "btn " + (danger ? "btn-danger" : "btn-primary");
    d.returnValue = "";
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
      d.showModal();
      $("#confirm-cancel").focus();
    });
  }

  // confirmedCall asks with confirmDialog(ask) and, when confirmed, sends
  // method to path, then shows done ([title, detail]) or failed with the
  // error. It resolves to whether the administrator confirmed.
  async function confirmedCall(ask, method, path, done, failed) {
    if (!(await confirmDialog(ask))) return false;
    try {
      await api(method, path);
      toast("success", done[0], done[1]);
    } catch (e) {
      toast("error", failed, e.message);
    }
    return true;
  }

  // ---- Tabs ----------------------------------------------------------------

  const tabs = $$('[role="tab"]');
  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $("#" + t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    try { sessionStorage.setItem("mcq-tab", tab.id); } catch (e) { /* ignore */ }
    if (tab.id === "tab-delivery") loadSettings();
    if (tab.id === "tab-qradar") loadQRadar(true);
    if (tab.id === "tab-admin") loadAdmin();
  }
  for (const t of tabs) {
    t.addEventListener("click", () => selectTab(t, false));
    t.addEventListener("keydown", (ev) => {
      const i = tabs.indexOf(t);
      let next = null;
      if (ev.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (ev.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (ev.key === "Home") next = tabs[0];
      else if (ev.key === "End") next = tabs[tabs.length - 1];
      if (next) { ev.preventDefault(); selectTab(next, true); }
    });
  }

  // ---- Accounts overview ---------------------------------------------------

  const state = {
    accounts: [],
    status: new Map(),
    runs: new Map(),
    runsKey: new Map(),
    cards: new Map(),
  };

  async function refresh() {
    try {
      const [accounts, status] = await Promise.all([api("GET", "api/accounts"), api("GET", "api/status")]);
      banner("");
      state.accounts = accounts;
      state.status = new Map(status.accounts.map((a) => [a.id, a]));
      renderAccounts();
      loadRuns();
    } catch (e) {
      banner("The accounts could not be loaded: " + e.message + ". Retrying…");
    }
  }

  let pollTimer = null;
  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedulePoll();
    }, POLL_MS);
  }

  function health(account, st) {
    const streams = (st && st.streams) || [];
    if (account.credentials_error) return { key: "error", text: "Re-enter credentials", tag: "tag-red" };
    if (!account.enabled && missingSecrets(account).length) return { key: "disabled", text: "Credentials needed", tag: "tag-outline" };
    if (!account.enabled) return { key: "disabled", text: "Disabled", tag: "" };
    if (streams.some((s) => s.state === "error")) return { key: "error", text: "Error", tag: "tag-red" };
    if (streams.some((s) => s.lag_state === "danger")) return { key: "danger", text: "Data at risk", tag: "tag-red" };
    if (streams.some((s) => s.state === "running")) return { key: "running", text: "Running", tag: "tag-blue", spin: true };
    if (streams.some((s) => s.lag_state === "warning")) return { key: "warning", text: "Behind", tag: "tag-yellow" };
    if (!streams.some((s) => s.last_run_ended)) return { key: "pending", text: "Waiting for first run", tag: "" };
    return { key: "ok", text: "Healthy", tag: "tag-green" };
  }

  // missingSecrets names the secrets the account's API version needs and
  // does not have: an imported account arrives without them.
  function missingSecrets(a) {
    return (CREDENTIAL_FIELDS[a.api_version] || { secret: [] }).secret.filter((f) => !a[f + "_set"]);
  }

  // lagText says how far behind a stream is, from lag_seconds (the
  // server's clock).
  function lagText(sec) {
    if (sec < 3600) return Math.max(1, Math.round(sec / 60)) + " min";
    if (sec < 48 * 3600) return Math.floor(sec / 3600) + " h";
    return Math.floor(sec / 86400) + " days";
  }

  function lagCell(s) {
    if (s.lag_seconds === null || s.lag_seconds === undefined) return el("td", { class: "muted" }, "–");
    const text = lagText(s.lag_seconds);
    if (s.lag_state === "danger") return el("td", { class: "lag" }, tag(text + " behind", "tag-red"));
    if (s.lag_state === "warning") return el("td", { class: "lag" }, tag(text + " behind", "tag-yellow"));
    return el("td", { class: "lag" }, text);
  }

  function tag(text, cls, spin) {
    return el("span", { class: "tag " + (cls || "") }, spin ? el("span", { class: "spinner", "aria-hidden": "true" }) : null, text);
  }

  function streamStateTag(s) {
    switch (s.state) {
      case "running": return tag("Running", "tag-blue", true);
      case "error": return tag("Error", "tag-red");
      case "disabled": return tag("Disabled", "");
      default: return s.last_success ? tag("OK", "tag-green") : tag("Not run yet", "tag-outline");
    }
  }

  function renderAccounts() {
    const accounts = state.accounts;
    const list = $("#accounts");
    $("#accounts-empty").hidden = accounts.length > 0;
    const seen = new Set();
    let prev = null;
    for (const a of accounts) {
      seen.add(a.id);
      let refs = state.cards.get(a.id);
      if (!refs) {
        refs = createCard(a.id);
        state.cards.set(a.id, refs);
      }
      updateCard(refs, a, state.status.get(a.id));
      // Move a card only when the order changed: moving the focused
      // button's card would drop keyboard focus.
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== refs.card) list.insertBefore(refs.card, want);
      prev = refs.card;
    }
    for (const [id, refs] of state.cards) {
      if (!seen.has(id)) {
        refs.card.remove();
        state.cards.delete(id);
      }
    }
    const counts = { ok: 0, error: 0, running: 0, warning: 0, danger: 0 };
    for (const a of accounts) {
      const h = health(a, state.status.get(a.id)).key;
      if (h in counts) counts[h]++;
    }
    const parts = [accounts.length + (accounts.length === 1 ? " account" : " accounts")];
    if (counts.ok) parts.push(counts.ok + " healthy");
    if (counts.running) parts.push(counts.running + " collecting");
    if (counts.warning) parts.push(counts.warning + " behind");
    if (counts.danger) parts.push(counts.danger + " with data at risk");
    if (counts.error) parts.push(counts.error + " with errors");
    parts.push("updated " + new Date().toLocaleTimeString());
    $("#summary").textContent = parts.join(" · ");
  }

  function createCard(id) {
    const nameId = "account-" + id + "-name";
    const refs = {};
    refs.name = el("h3", { id: nameId });
    refs.tags = el("span", { class: "card-title-tags" });
    refs.meta = el("div", { class: "card-meta" });
    const action = (act, text, cls) => el("button", { type: "button", class: "btn btn-sm " + cls, "data-action": act, "aria-describedby": nameId }, text);
    refs.testBtn = action("test", "Test connection", "btn-ghost");
    refs.collectBtn = action("collect", "Collect now", "btn-ghost");
    refs.editBtn = action("edit", "Edit", "btn-ghost");
    refs.deleteBtn = action("delete", "Delete", "btn-danger-ghost");
    refs.notices = el("div", { class: "card-notices" });
    refs.tbody = el("tbody");
    refs.caption = el("caption", { class: "sr-only" });
    const table = el("table", { class: "data-table" }, refs.caption,
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Stream"), el("th", { scope: "col" }, "State"),
        el("th", { scope: "col" }, "Last success"), el("th", { scope: "col" }, "Behind"), el("th", { scope: "col", class: "num" }, "Events (24 h)"),
        el("th", { scope: "col", class: "num" }, "Last run"), el("th", { scope: "col" }, "Next run"),
        el("th", { scope: "col" }, "Last error"))),
      refs.tbody);
    refs.chartTitle = el("span", {}, "Events per run");
    refs.chartMax = el("span", {});
    refs.svg = svgEl("svg", { viewBox: "0 0 600 112", preserveAspectRatio: "none", role: "img" });
    refs.legend = el("div", { class: "legend" });
    const figure = el("figure", { class: "chart" }, el("figcaption", {}, refs.chartTitle, refs.chartMax), refs.svg, refs.legend);
    refs.test = el("div", { class: "card-test", "aria-live": "polite" });
    refs.card = el("article", { class: "account-card", "data-account-id": id, "aria-labelledby": nameId },
      el("div", { class: "card-head" },
        el("div", {}, el("div", { class: "card-title" }, refs.name, refs.tags), refs.meta),
        el("div", { class: "card-actions" }, refs.testBtn, refs.collectBtn, refs.editBtn, refs.deleteBtn)),
      refs.notices,
      el("div", { class: "card-body" }, el("div", { class: "table-wrap" }, table), figure),
      refs.test);
    refs.testBtn.addEventListener("click", () => testAccount(id, refs));
    refs.collectBtn.addEventListener("click", () => collectNow(id, refs));
    refs.editBtn.addEventListener("click", () => openForm(id));
    refs.deleteBtn.addEventListener("click", () => deleteAccount(id));
    return refs;
  }

  function updateCard(refs, a, st) {
    const h = health(a, st);
    refs.card.dataset.health = h.key;
    refs.name.textContent = a.name;
    refs.tags.replaceChildren(
      tag(h.text, h.tag, h.spin),
      tag("API " + a.api_version, "tag-outline"));
    refs.meta.replaceChildren(
      el("span", {}, "Log source ", el("code", {}, a.log_source_identifier)),
      el("span", {}, a.base_url),
      el("span", {}, "Runs " + scheduleText(a.schedule)));

    const running = h.key === "running";
    refs.collectBtn.disabled = !a.enabled || running;
    refs.collectBtn.textContent = running ? "Collecting…" : "Collect now";
    refs.collectBtn.title = a.enabled ? "" : "The account is disabled";

    const notices = [];
    if (a.credentials_error) {
      notices.push(el("div", { class: "notification notification-error" },
        el("strong", {}, "Collection is stopped. "), a.credentials_error + ". Edit the account and type its secrets again."));
    }
    const missing = missingSecrets(a);
    if (!a.credentials_error && missing.length) {
      notices.push(el("div", { class: "notification notification-warning credentials-needed" },
        el("strong", {}, "Enter credentials. "), "This account has no " + missing.join(", ").replace(/_/g, " ") +
        " (secrets are never exported, so imported accounts arrive without them). Edit the account, enter them and enable it."));
    }
    const byStream = new Map(((st && st.streams) || []).map((s) => [s.stream, s]));
    for (const name of a.enabled ? a.streams : []) {
      const s = byStream.get(name);
      if (!s || (s.lag_state !== "warning" && s.lag_state !== "danger")) continue;
      const behind = "collection is " + lagText(s.lag_seconds) + " behind";
      if (s.lag_state === "danger") {
        notices.push(el("div", { class: "notification notification-error lag-notice", "data-stream": name },
          el("strong", {}, streamLabel(name) + ": " + behind + ": data older than 7 days is lost: act now. "),
          "Mimecast deletes log data after 7 days; fix the error shown below and collect now, or the oldest events never reach QRadar."));
      } else {
        notices.push(el("div", { class: "notification notification-warning lag-notice", "data-stream": name },
          el("strong", {}, streamLabel(name) + ": " + behind + ". "),
          "Mimecast keeps log data for 7 days, so nothing is lost yet; check the stream's last error."));
      }
    }
    refs.notices.replaceChildren(...notices);

    refs.caption.textContent = "Streams of " + a.name;
    const rows = a.streams.flatMap((name) => {
      const s = byStream.get(name) || { stream: name, state: a.enabled ? "idle" : "disabled" };
      const row = el("tr", {},
        el("td", { id: streamCellId(a.id, name) }, streamLabel(name), recollectButton(a, s)),
        el("td", {}, streamStateTag(s)),
        timeCell(s.last_success, "never"),
        lagCell(s),
        el("td", { class: "num" }, fmtNum(s.events_last_24h)),
        el("td", { class: "num", title: s.last_run_ended ? "Events in the last run; " + fmtNum(s.events_total) + " in total" : null },
          s.last_run_ended ? fmtNum(s.events_last_run) : "–"),
        s.state === "disabled" || !a.enabled ? el("td", {}, "–") : timeCell(s.next_run, "not scheduled"),
        errorCell(a, s));
      return s.backfill ? [row, backfillRow(a, s)] : [row];
    });
    if (rows.length === 0) rows.push(el("tr", { class: "empty-row" }, el("td", { colspan: 8 }, "No streams selected.")));
    // The rows are redrawn at every poll: a focused button in them gets
    // the focus back in its new row.
    const focused = refs.tbody.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    refs.tbody.replaceChildren(...rows);
    if (focused) {
      const again = refs.tbody.querySelector('[data-action="' + focused + '"]');
      if (again) again.focus();
    }
    drawChart(refs, state.runs.get(a.id));
  }

  // Runs are fetched again only when a stream of the account finished a run
  // since the last fetch.
  function loadRuns() {
    for (const a of state.accounts) {
      const st = state.status.get(a.id);
      const key = ((st && st.streams) || []).map((s) => s.stream + "@" + (s.last_run_ended || "")).join("|");
      if (state.runsKey.get(a.id) === key && state.runs.has(a.id)) continue;
      state.runsKey.set(a.id, key);
      const limit = Math.min(500, RUNS_SHOWN * Math.max(1, a.streams.length));
      api("GET", "api/accounts/" + a.id + "/runs?limit=" + limit).then((runs) => {
        state.runs.set(a.id, runs);
        const refs = state.cards.get(a.id);
        if (refs) drawChart(refs, runs);
      }).catch(() => state.runsKey.delete(a.id));
    }
  }

  // groupRuns turns the per-stream run records into collection runs: the
  // streams of one run start within a short time of each other, and a
  // stream appears at most once per run.
  function groupRuns(runs) {
    const asc = runs.slice().sort((a, b) => new Date(a.started) - new Date(b.started));
    const groups = [];
    for (const r of asc) {
      const t = new Date(r.started).getTime();
      let g = groups[groups.length - 1];
      if (!g || t - g.start > 120000 || g.runs.some((x) => x.stream === r.stream)) {
        g = { start: t, runs: [], total: 0, failed: false };
        groups.push(g);
      }
      g.runs.push(r);
      g.total += r.events;
      if (r.outcome === "error") g.failed = true;
    }
    return groups.slice(-RUNS_SHOWN);
  }

  // drawChart draws one stacked bar per collection run (oldest left), a
  // segment per stream, with failed runs on a red band, as inline SVG.
  function drawChart(refs, runs) {
    const svg = refs.svg;
    svg.replaceChildren();
    refs.legend.replaceChildren();
    const W = 600, H = 112, top = 6;
    for (const f of [0, 0.5, 1]) {
      const y = top + (H - top) * f;
      svg.append(svgEl("line", { class: "gridline", x1: 0, x2: W, y1: y - 0.5, y2: y - 0.5, "vector-effect": "non-scaling-stroke" }));
    }
    const groups = groupRuns(runs || []);
    if (groups.length === 0) {
      refs.chartTitle.textContent = "Events per run";
      refs.chartMax.textContent = runs ? "no runs yet" : "";
      svg.setAttribute("aria-label", "Events per run: no runs yet");
      return;
    }
    const max = Math.max(1, ...groups.map((g) => g.total));
    const slot = W / Math.max(groups.length, 24);
    const barW = Math.max(1, slot * 0.72);
    const order = (s) => STREAMS.findIndex((x) => x.name === s);
    let failed = 0;
    const seen = new Set();
    groups.forEach((g, i) => {
      const x = i * slot + (slot - barW) / 2;
      const lines = [new Date(g.start).toLocaleString() + ": " + fmtNum(g.total) + " events"];
      for (const r of g.runs) lines.push(streamLabel(r.stream) + ": " + fmtNum(r.events) + (r.outcome === "error" ? " (failed: " + r.error + ")" : ""));
      const title = () => svgEl("title", {}, document.createTextNode(lines.join("\n")));
      const bar = svgEl("g", { class: "run" }, title());
      if (g.failed) {
        failed++;
        bar.append(svgEl("rect", { class: "error-band", x: i * slot, y: top, width: slot, height: H - top }));
        bar.append(svgEl("rect", { class: "error-mark", x, y: H - 3, width: barW, height: 3 }));
      }
      let y = H;
      for (const r of g.runs.slice().sort((a, b) => order(a.stream) - order(b.stream))) {
        if (r.events <= 0) continue;
        const h = ((H - top) * r.events) / max;
        y -= h;
        seen.add(r.stream);
        bar.append(svgEl("rect", { x, y, width: barW, height: Math.max(h, 0.5), fill: streamColor(r.stream) }));
      }
      svg.append(bar);
    });
    refs.chartTitle.textContent = "Events per run (last " + groups.length + (groups.length === 1 ? " run)" : " runs)");
    refs.chartMax.textContent = "max " + fmtNum(max);
    svg.setAttribute("aria-label", "Events per run: " + groups.length + " runs, up to " + fmtNum(max) + " events" + (failed ? ", " + failed + " failed" : ""));
    const swatch = (color) => {
      const s = el("span", { class: "legend-swatch" });
      s.style.background = color;
      return s;
    };
    for (const s of STREAMS.map((x) => x.name).filter((n) => seen.has(n))) {
      refs.legend.append(el("span", {}, swatch(streamColor(s)), streamLabel(s)));
    }
    if (failed) {
      refs.legend.append(el("span", {}, swatch(getComputedStyle(document.documentElement).getPropertyValue("--support-error")), "failed run"));
    }
  }

  // ---- Account actions -----------------------------------------------------

  function renderTestResult(container, res, account) {
    const ok = res.ok;
    const items = (res.streams || []).map((s) => el("li", {},
      el("span", { class: s.ok ? "ok" : "fail", "aria-hidden": "true" }, s.ok ? "✓" : "✕"),
      el("span", {}, el("strong", {}, streamLabel(s.stream)), s.ok ? ": OK" : ": " + (s.error || "failed"))));
    const close = el("button", { type: "button", class: "btn btn-ghost btn-sm" }, "Dismiss");
    close.addEventListener("click", () => container.replaceChildren());
    container.replaceChildren(el("div", { class: "notification " + (ok ? "notification-success" : "notification-error") + " test-result" },
      el("strong", {}, ok ? "Connection OK" : "Connection failed"),
      account ? " — " + account : "",
      res.error ? el("div", {}, res.error) : null,
      items.length ? el("ul", { class: "test-list" }, items) : null,
      close));
  }

  async function testAccount(id, refs) {
    const btn = refs.testBtn;
    btn.disabled = true;
    btn.textContent = "Testing…";
    refs.test.replaceChildren(el("div", { class: "notification notification-info" }, "Testing the connection and each stream's permission…"));
    try {
      const res = await api("POST", "api/accounts/" + id + "/test");
      renderTestResult(refs.test, res, refs.name.textContent);
    } catch (e) {
      refs.test.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Test failed: "), e.message));
    } finally {
      btn.disabled = false;
      btn.textContent = "Test connection";
    }
  }

  // errorCell shows a stream's last error; when Mimecast refused the saved
  // position, it offers to reset it (after confirmation: the next run then
  // starts from the initial lookback and may repeat events).
  function errorCell(a, s) {
    if (!s.last_error) return el("td", {}, "–");
    const td = el("td", { class: "error-cell" }, s.last_error);
    if (s.last_error.includes("reset it in the panel")) {
      const btn = el("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-action": "reset-" + s.stream }, "Reset position");
      btn.addEventListener("click", () => resetPosition(a, s.stream));
      td.append(" ", btn);
    }
    return td;
  }

  async function resetPosition(a, stream) {
    const yes = await confirmedCall({
      label: "Reset position",
      title: "Reset the saved position of " + streamLabel(stream) + " for “" + a.name + "”?",
      body: "Mimecast refused the saved position. After a reset the next run starts again from the account's initial lookback. Files and records QRadar already received are recognised and not sent again.",
      ok: "Reset position",
      danger: true,
    }, "POST", "api/accounts/" + a.id + "/streams/" + encodeURIComponent(stream) + "/reset",
    ["Position reset.", "Collect now or wait for the next run."], "Position not reset:");
    if (!yes) return;
    await refresh();
  }

  // ---- Re-collecting a period (backfill) -------------------------------------

  const streamCellId = (id, stream) => "account-" + id + "-stream-" + stream;

  const describedBy = (a, stream) => streamCellId(a.id, stream) + " account-" + a.id + "-name";

  // recollectButton offers to re-collect a stream that keeps a history and
  // has no re-collection pending.
  function recollectButton(a, s) {
    if (!backfillDays(s.stream) || s.backfill) return null;
    const btn = el("button", { type: "button", class: "btn btn-ghost btn-inline", "data-action": "backfill-" + s.stream,
      "aria-describedby": describedBy(a, s.stream) }, "Re-collect…");
    btn.addEventListener("click", () => openBackfill(a, s.stream));
    return btn;
  }

  // backfillRow shows, under the stream's row, its pending re-collection:
  // the period, the progress and a Cancel button.
  function backfillRow(a, s) {
    const b = s.backfill;
    const cancel = el("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-action": "cancel-backfill-" + s.stream,
      "aria-describedby": describedBy(a, s.stream) }, "Cancel");
    cancel.addEventListener("click", () => cancelBackfill(a, s.stream));
    return el("tr", { class: "backfill-row" }, el("td", { colspan: 8 }, el("div", {},
      el("span", { class: "backfill-progress" }, el("span", { class: "sr-only" }, streamLabel(s.stream) + ": "),
        "Re-collecting " + fmtShort(new Date(b.from)) + " → " + fmtShort(new Date(b.to)) + ": " +
        fmtNum(b.delivered) + " sent, " + fmtNum(b.skipped) + " already in QRadar"),
      cancel)));
  }

  const fmtShort = (d) => d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

  // A datetime-local input holds local time without a zone, "2026-11-20T09:00".
  function localInput(d) {
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  // utcTime turns an input's local time into RFC 3339 UTC; null when empty.
  const utcTime = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : null);

  const backfillDialog = $("#backfill-dialog");
  const backfillForm = $("#backfill-form");
  let backfillTarget = null; // { account, stream } while the dialog is open

  function clearBackfillErrors() {
    $("#backfill-error").hidden = true;
    for (const e of $$(".form-requirement", backfillForm)) e.remove();
    for (const i of [$("#bf-from"), $("#bf-to")]) {
      i.removeAttribute("aria-invalid");
      i.setAttribute("aria-describedby", "bf-window");
    }
  }

  // showBackfillErrors puts each time's problem under its input and the
  // rest (the stream, a conflict, the collector's refusal) above them.
  function showBackfillErrors(e) {
    const inputs = { from: $("#bf-from"), to: $("#bf-to") };
    const sentence = (t) => t.charAt(0).toUpperCase() + t.slice(1) + ".";
    const other = [];
    let first = null;
    for (const [name, problem] of Object.entries(e.fields)) {
      const input = inputs[name];
      if (!input) { other.push(sentence(problem)); continue; }
      const msg = el("p", { class: "form-requirement", id: input.id + "-error" }, sentence(problem));
      input.after(msg);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "bf-window " + msg.id);
      if (!first) first = input;
    }
    if (other.length || !first) {
      const box = $("#backfill-error");
      box.textContent = other.length ? other.join(" ") : e.message;
      box.hidden = false;
    }
    if (first) first.focus();
  }

  function openBackfill(a, stream) {
    const days = backfillDays(stream);
    const now = new Date();
    const horizon = new Date(now.getTime() - days * 86400e3);
    backfillTarget = { account: a, stream };
    backfillDialog.returnValue = "";
    clearBackfillErrors();
    const from = $("#bf-from"), to = $("#bf-to");
    for (const i of [from, to]) {
      i.min = localInput(horizon);
      i.max = localInput(now);
    }
    from.value = localInput(new Date(Math.max(horizon.getTime(), now.getTime() - 86400e3)));
    to.value = localInput(now);
    $("#backfill-title").textContent = "Re-collect " + streamLabel(stream) + " for “" + a.name + "”";
    $("#bf-window").textContent = "Times are in your time zone (" + Intl.DateTimeFormat().resolvedOptions().timeZone + "). Mimecast keeps this stream's data " +
      days + " days: from " + fmtShort(horizon) + " until now.";
    backfillDialog.showModal();
    from.focus();
  }

  backfillForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { account, stream } = backfillTarget;
    const submit = $("#bf-submit");
    submit.disabled = true;
    clearBackfillErrors();
    try {
      await api("POST", "api/accounts/" + account.id + "/streams/" + encodeURIComponent(stream) + "/backfill",
        { from: utcTime($("#bf-from").value), to: utcTime($("#bf-to").value) });
      backfillDialog.close("sent");
      toast("success", "Re-collection requested.", streamLabel(stream) + " of “" + account.name + "”: the next runs send what QRadar is missing.");
      await refresh();
      focusAction(account.id, "cancel-backfill-" + stream);
    } catch (e) {
      showBackfillErrors(e);
    } finally {
      submit.disabled = false;
    }
  });
  for (const b of $$("[data-close]", backfillDialog)) b.addEventListener("click", () => backfillDialog.close());
  // Closed without a request (Cancel, Escape): back to the button that
  // opened it, which the polls may have redrawn.
  backfillDialog.addEventListener("close", () => {
    if (backfillTarget && backfillDialog.returnValue !== "sent") focusAction(backfillTarget.account.id, "backfill-" + backfillTarget.stream);
  });

  async function cancelBackfill(a, stream) {
    const yes = await confirmedCall({
      label: "Cancel re-collection",
      title: "Stop re-collecting " + streamLabel(stream) + " for “" + a.name + "”?",
      body: "The records sent so far stay in QRadar; the rest of the period is not collected again.",
      ok: "Stop re-collection",
      danger: true,
    }, "DELETE", "api/accounts/" + a.id + "/streams/" + encodeURIComponent(stream) + "/backfill",
    ["Re-collection cancelled.", streamLabel(stream) + " of “" + a.name + "”."], "Re-collection not cancelled:");
    if (!yes) return;
    await refresh();
    focusAction(a.id, "backfill-" + stream);
  }

  // focusAction focuses the account card's control for act or, when there
  // is none, its Collect now button.
  function focusAction(id, act) {
    const refs = state.cards.get(id);
    if (refs) (refs.card.querySelector('[data-action="' + act + '"]') || refs.collectBtn).focus();
  }

  async function collectNow(id, refs) {
    refs.collectBtn.disabled = true;
    try {
      await api("POST", "api/accounts/" + id + "/collect");
      toast("success", "Collection started", "for " + refs.name.textContent + ".");
    } catch (e) {
      toast("error", "Collection not started:", e.message);
    }
    await refresh();
  }

  async function deleteAccount(id) {
    const a = state.accounts.find((x) => x.id === id);
    if (!a) return;
    const yes = await confirmedCall({
      label: "Delete account",
      title: "Delete “" + a.name + "”?",
      body: "Collection stops and the account's credentials, checkpoints and run history are removed from this app. Events already in QRadar stay there; the account's QRadar log source is disabled at the next set-up.",
      ok: "Delete",
      danger: true,
    }, "DELETE", "api/accounts/" + id, ["Deleted", "“" + a.name + "”."], "Not deleted:");
    if (!yes) return;
    await refresh();
    $("#add-account").focus();
  }

  // ---- Account form --------------------------------------------------------

  const dialog = $("#account-dialog");
  const form = $("#account-form");
  const field = (name) => $("#f-" + name);
  let editing = null; // the account being edited, or null when adding

  function apiVersion() {
    return ($('input[name="api_version"]:checked', form) || {}).value || "2.0";
  }

  function showVersion() {
    const v = apiVersion();
    for (const block of $$(".creds", form)) block.hidden = block.dataset.apiVersion !== v;
    const region = field("region");
    let keep = false;
    for (const opt of region.options) {
      const fits = opt.dataset.apiVersion === v || opt.dataset.apiVersion === "any";
      opt.hidden = !fits;
      opt.disabled = !fits;
      if (fits && opt.value && opt.value === field("base_url").value) keep = true;
    }
    if (!keep) {
      const url = field("base_url").value;
      const other = $$("option", region).some((o) => o.value && o.value === url);
      // A host of the other generation is replaced by this one's default;
      // a custom URL stays.
      if (!url || other) {
        const first = $$("option", region).find((o) => !o.disabled && o.value);
        field("base_url").value = first ? first.value : "";
      }
    }
    syncRegion();
  }

  function syncRegion() {
    const url = field("base_url").value.trim().replace(/\/+$/, "");
    const region = field("region");
    const match = $$("option", region).find((o) => !o.disabled && o.value === url);
    region.value = match ? match.value : "";
  }

  function syncSchedulePreset() {
    const preset = field("schedule-preset");
    const v = field("schedule").value.trim();
    preset.value = $$("option", preset).some((o) => o.value === v) ? v : "";
  }

  function updateIdentifierPlaceholder() {
    field("log_source_identifier").placeholder = field("name").value.trim() ? deriveIdentifier(field("name").value) : "mimecast-…";
  }

  function clearErrors() {
    $("#form-error").hidden = true;
    for (const e of $$(".form-requirement", form)) e.remove();
    for (const i of $$('[aria-invalid="true"]', form)) {
      i.removeAttribute("aria-invalid");
      const ids = (i.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.endsWith("-error"));
      if (ids.length) i.setAttribute("aria-describedby", ids.join(" ")); else i.removeAttribute("aria-describedby");
    }
  }

  function showFieldErrors(fields, message) {
    clearErrors();
    let first = null;
    const extra = [];
    for (const [name, problem] of Object.entries(fields)) {
      let input, anchor;
      if (name === "streams") {
        input = $('#f-streams input[name="streams"]');
        anchor = $("#f-streams");
      } else if (name === "api_version") {
        input = $('input[name="api_version"]', form);
        anchor = $(".radio-row", form);
      } else {
        input = field(name);
        anchor = input && input.closest(".field");
      }
      if (!input || !anchor) {
        extra.push(name + ": " + problem);
        continue;
      }
      const id = (name === "streams" ? "f-streams" : input.id) + "-error";
      const msg = el("p", { class: "form-requirement", id }, problem.charAt(0).toUpperCase() + problem.slice(1) + ".");
      if (name === "streams") anchor.after(msg); else if (name === "api_version") anchor.after(msg); else input.after(msg);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + id).trim());
      // A field of the hidden credential block is shown by its version.
      if (!first) first = input;
    }
    const n = Object.keys(fields).length;
    const box = $("#form-error");
    box.replaceChildren(el("strong", {}, message || (n === 1 ? "Please correct the highlighted field." : "Please correct the " + n + " highlighted fields.")));
    if (extra.length) box.append(el("div", {}, extra.join("; ")));
    box.hidden = false;
    if (first) first.focus(); else box.scrollIntoView({ block: "nearest" });
  }

  function setSecretState(name, isSet) {
    const input = field(name);
    const st = $("#f-" + name + "-state");
    input.value = "";
    input.placeholder = isSet ? "•••••••• (unchanged)" : "";
    st.textContent = isSet ? "Set. Leave empty to keep it; type a new value to replace it." : "Not set";
    st.classList.toggle("is-set", isSet);
  }

  async function openForm(id) {
    form.reset();
    clearErrors();
    $("#form-test-result").replaceChildren();
    editing = null;
    if (id) {
      try {
        editing = await api("GET", "api/accounts/" + id);
      } catch (e) {
        toast("error", "Cannot open the account:", e.message);
        return;
      }
    }
    const a = editing;
    $("#account-dialog-title").textContent = a ? "Edit “" + a.name + "”" : "Add account";
    $("#form-test").hidden = !a;
    field("name").value = a ? a.name : "";
    field("enabled").checked = a ? a.enabled : true;
    $('input[name="api_version"][value="' + (a ? a.api_version : "2.0") + '"]', form).checked = true;
    field("base_url").value = a ? a.base_url : "";
    field("client_id").value = a ? a.client_id : "";
    field("app_id").value = a ? a.app_id : "";
    for (const s of SECRET_FIELDS) setSecretState(s, !!(a && a[s + "_set"]));
    for (const cb of $$('#f-streams input[name="streams"]')) {
      cb.checked = a ? a.streams.includes(cb.value) : cb.hasAttribute("data-default");
    }
    field("schedule").value = a ? a.schedule : field("schedule").defaultValue;
    field("log_source_identifier").value = a ? a.log_source_identifier : "";
    field("initial_lookback_hours").value = a ? a.initial_lookback_hours : field("initial_lookback_hours").defaultValue;
    showVersion();
    syncSchedulePreset();
    updateIdentifierPlaceholder();
    if (a && a.credentials_error) {
      const box = $("#form-error");
      box.replaceChildren(el("strong", {}, "Re-enter credentials. "), a.credentials_error + ".");
      box.hidden = false;
    }
    dialog.showModal();
    field("name").focus();
  }

  // formBody builds the request body: only the chosen version's
  // credentials, and a secret only when one was typed (an empty secret on
  // an update means "unchanged").
  function formBody() {
    const v = apiVersion();
    const body = {
      name: field("name").value.trim(),
      enabled: field("enabled").checked,
      api_version: v,
      base_url: field("base_url").value.trim(),
      streams: $$('#f-streams input[name="streams"]:checked').map((cb) => cb.value),
      schedule: field("schedule").value.trim(),
      log_source_identifier: field("log_source_identifier").value.trim(),
    };
    const hours = field("initial_lookback_hours").value.trim();
    body.initial_lookback_hours = /^\d+$/.test(hours) ? Number(hours) : hours;
    for (const f of CREDENTIAL_FIELDS[v].plain) body[f] = field(f).value.trim();
    for (const f of CREDENTIAL_FIELDS[v].secret) {
      const val = field(f).value.trim();
      if (val) body[f] = val;
    }
    return body;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const save = $("#form-save");
    save.disabled = true;
    try {
      const body = formBody();
      const saved = editing
        ? await api("PUT", "api/accounts/" + editing.id, body)
        : await api("POST", "api/accounts", body);
      dialog.close();
      toast("success", editing ? "Saved" : "Added", "“" + saved.name + "”." + (editing ? "" : " The first collection starts now."));
      await refresh();
      const refs = state.cards.get(saved.id);
      if (refs) refs.editBtn.focus();
    } catch (e) {
      if (e.status === 422 && Object.keys(e.fields).length) showFieldErrors(e.fields);
      else showFieldErrors({}, e.message);
    } finally {
      save.disabled = false;
    }
  });

  $("#form-test").addEventListener("click", async () => {
    if (!editing) return;
    const out = $("#form-test-result");
    const btn = $("#form-test");
    btn.disabled = true;
    clearErrors();
    out.replaceChildren(el("div", { class: "notification notification-info" }, "Testing the values in this form (not saved yet)…"));
    try {
      const res = await api("POST", "api/accounts/" + editing.id + "/test", formBody());
      renderTestResult(out, res, null);
    } catch (e) {
      out.replaceChildren();
      if (e.status === 422 && Object.keys(e.fields).length) showFieldErrors(e.fields);
      else out.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Test failed: "), e.message));
    } finally {
      btn.disabled = false;
    }
  });

  for (const b of $$("[data-close]", dialog)) b.addEventListener("click", () => dialog.close());
  // Typed secrets do not outlive the dialog.
  dialog.addEventListener("close", () => { for (const s of SECRET_FIELDS) field(s).value = ""; });
  for (const r of $$('input[name="api_version"]', form)) r.addEventListener("change", showVersion);
  field("region").addEventListener("change", () => {
    if (field("region").value) field("base_url").value = field("region").value;
    else field("base_url").focus();
  });
  field("base_url").addEventListener("input", syncRegion);
  field("schedule-preset").addEventListener("change", () => {
    const v = field("schedule-preset").value;
    if (v) field("schedule").value = v; else field("schedule").focus();
  });
  field("schedule").addEventListener("input", syncSchedulePreset);
  field("name").addEventListener("input", updateIdentifierPlaceholder);
  $("#add-account").addEventListener("click", () => openForm(null));

  // ---- Event delivery (syslog target) -----------------------------------------

  const syslog = { loaded: false, extra: "" };

  // Targets are URLs: tcp|tls|udp://host[:port][?framing=lf|octet&maxlen=N]
  // or file:///path. Options the form has no field for (maxlen) are kept.
  function parseTarget(t) {
    const m = /^(tcp|tls|udp):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?\/?(?:\?(.*))?$/i.exec(t || "");
    if (m) {
      const protocol = m[1].toLowerCase();
      const q = new URLSearchParams(m[4] || "");
      const framing = (q.get("framing") || "").toLowerCase() === "octet" ? "octet" : "lf";
      q.delete("framing");
      return { protocol, host: m[2].replace(/^\[|\]$/g, ""), port: m[3] || (protocol === "tls" ? "6514" : "514"), framing, path: "", extra: q.toString() };
    }
    const f = /^file:\/\/(.*)$/i.exec(t || "");
    if (f) return { protocol: "file", host: "", port: "", framing: "lf", path: f[1], extra: "" };
    return { protocol: "tcp", host: "", port: "514", framing: "lf", path: "", extra: "" };
  }

  function composeTarget() {
    const p = $("#sl-protocol").value;
    if (p === "file") return "file://" + $("#sl-path").value.trim();
    let host = $("#sl-host").value.trim();
    if (host.includes(":") && !host.startsWith("[")) host = "[" + host + "]";
    const q = new URLSearchParams(syslog.extra || "");
    if (p !== "udp" && $("#sl-framing").value === "octet") q.set("framing", "octet");
    const query = q.toString();
    return p + "://" + host + ":" + $("#sl-port").value.trim() + (query ? "?" + query : "");
  }

  function showSyslogFields() {
    const p = $("#sl-protocol").value;
    for (const f of $$('#syslog-form [data-for="network"]')) f.hidden = p === "file";
    for (const f of $$('#syslog-form [data-for="stream"]')) f.hidden = p === "file" || p === "udp";
    for (const f of $$('#syslog-form [data-for="file"]')) f.hidden = p !== "file";
    $("#sl-preview").textContent = composeTarget();
  }

  function fillSyslog(target) {
    const t = parseTarget(target);
    syslog.extra = t.extra;
    $("#sl-protocol").value = t.protocol;
    $("#sl-host").value = t.host;
    $("#sl-port").value = t.port;
    $("#sl-framing").value = t.framing;
    $("#sl-path").value = t.path;
    showSyslogFields();
  }

  async function loadSettings(force) {
    if (syslog.loaded && !force) return;
    try {
      const s = await api("GET", "api/settings");
      syslog.loaded = true;
      $("#sl-default").textContent = s.syslog_target_default || "(none)";
      fillSyslog(s.syslog_target);
    } catch (e) {
      $("#syslog-result").replaceChildren(el("div", { class: "notification notification-error" }, "The setting could not be loaded: " + e.message));
    }
  }

  function syslogError(e) {
    const box = $("#syslog-error");
    box.textContent = e ? (e.fields && e.fields.syslog_target ? "Target " + e.fields.syslog_target : e.message) : "";
    box.hidden = !e;
  }

  async function saveSyslog(target) {
    syslogError(null);
    $("#syslog-result").replaceChildren();
    try {
      const s = await api("PUT", "api/settings", { syslog_target: target });
      fillSyslog(s.syslog_target);
      toast("success", "Saved.", "Events now go to " + s.syslog_target + ".");
    } catch (e) {
      syslogError(e);
    }
  }

  $("#syslog-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveSyslog(composeTarget()); });
  $("#sl-reset").addEventListener("click", () => saveSyslog(""));
  $("#sl-test").addEventListener("click", async () => {
    syslogError(null);
    const out = $("#syslog-result");
    const btn = $("#sl-test");
    btn.disabled = true;
    out.replaceChildren(el("div", { class: "notification notification-info" }, "Sending a test event…"));
    try {
      const r = await api("POST", "api/settings/test-syslog", { syslog_target: composeTarget() });
      out.replaceChildren(el("div", { class: "notification notification-success" }, el("strong", {}, "Test event sent. "),
        "Look for EventID collector_health in QRadar's Log Activity (" + r.syslog_target + ")."));
    } catch (e) {
      out.replaceChildren();
      if (e.status === 422) syslogError(e);
      else out.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Not sent. "), e.message));
    } finally {
      btn.disabled = false;
    }
  });
  for (const id of ["#sl-protocol", "#sl-host", "#sl-port", "#sl-framing", "#sl-path"]) {
    $(id).addEventListener("input", showSyslogFields);
    $(id).addEventListener("change", showSyslogFields);
  }

  // ---- QRadar set-up -------------------------------------------------------------

  const QRADAR_STATES = {
    ok: ["notification-success", "Set-up complete."],
    pending: ["notification-info", "Set-up in progress."],
    error: ["notification-error", "Set-up needs attention."],
    off: ["notification-warning", "QRadar set-up is off."],
  };
  const OBJECT_LABELS = {
    log_source_type: "Log source type",
    log_source_group: "Log source group",
    log_source: "Log sources",
    property: "Custom properties",
    property_expression: "Property expressions",
    qid: "QID records",
    event_mapping: "Event mappings",
    reference_set: "Reference sets",
  };
  const objectLabel = (o) => OBJECT_LABELS[o] || o.replace(/_/g, " ");
  const OBJECT_NAMES = {
    log_source_type: "Log source type",
    log_source_group: "Log source group",
    log_source: "Log source",
    property: "Custom property",
    property_expression: "Property expression",
    qid: "QID record",
    event_mapping: "Event mapping",
    reference_set: "Reference set",
  };
  const objectName = (o) => OBJECT_NAMES[o] || o.replace(/_/g, " ");

  // renderQRadarObjects shows a count per kind of object, a table of the
  // log sources and of every object not "ok", and the full list folded
  // away: QRadar set-up manages well over a hundred objects.
  function renderQRadarObjects(q) {
    const objects = q.objects || [];
    const names = new Map(state.accounts.map((a) => [a.id, a.name]));
    const row = (o) => el("tr", {},
      el("td", {}, objectName(o.object)),
      el("td", {}, o.name),
      el("td", {}, o.account_id ? names.get(o.account_id) || "#" + o.account_id : "–"),
      el("td", {}, o.qradar_id || "–"),
      el("td", {}, tag(o.state, o.state === "ok" ? "tag-green" : o.state === "error" ? "tag-red" : "tag-blue")),
      el("td", { class: o.state === "error" ? "error-cell" : "" }, o.last_error || "–"));
    const empty = (text) => el("tr", { class: "empty-row" }, el("td", { colspan: 6 }, text));

    const kinds = new Map();
    for (const o of objects) {
      const k = kinds.get(o.object) || { ok: 0, pending: 0, error: 0 };
      k[o.state in k ? o.state : "pending"]++;
      kinds.set(o.object, k);
    }
    $("#qradar-summary").replaceChildren(...[...kinds].map(([kind, k]) => {
      const total = k.ok + k.pending + k.error;
      const cls = k.error ? "has-error" : k.pending ? "has-pending" : "all-ok";
      const parts = [];
      if (k.ok) parts.push(k.ok + " ok");
      if (k.pending) parts.push(k.pending + " pending");
      if (k.error) parts.push(k.error + (k.error === 1 ? " error" : " errors"));
      return el("div", { class: "object-kind " + cls },
        el("span", { class: "object-count" }, String(total)),
        el("span", { class: "object-name" }, objectLabel(kind)),
        el("span", { class: "object-states" }, parts.join(" · ")));
    }));

    const focus = objects.filter((o) => o.object === "log_source" || o.state !== "ok");
    $("#qradar-objects tbody").replaceChildren(...(focus.length ? focus.map(row)
      : [empty(q.configured ? (objects.length ? "Every object is set up." : "Nothing set up yet.") : "Nothing to show while QRadar set-up is off.")]));
    $("#qradar-count").textContent = String(objects.length);
    $("#qradar-all").hidden = objects.length === 0;
    $("#qradar-all-objects tbody").replaceChildren(...objects.map(row));

    const times = [];
    if (q.last_attempt) times.push("Last attempt " + fmtRel(q.last_attempt).text);
    if (q.last_success) times.push("last success " + fmtRel(q.last_success).text);
    if (q.next_attempt && q.state !== "ok") times.push("next attempt " + fmtRel(q.next_attempt).text);
    $("#qradar-times").textContent = times.join(" · ");
  }

  let qradarTimer = null;
  let searchesLoaded = false;
  let qradarInfo = null;

  async function loadQRadar(withSearches) {
    clearTimeout(qradarTimer);
    try {
      const q = await api("GET", "api/qradar");
      qradarInfo = q;
      const [cls, title] = QRADAR_STATES[q.state] || QRADAR_STATES.pending;
      const box = $("#qradar-state");
      box.className = "notification " + cls;
      box.replaceChildren(el("strong", {}, title + " "), q.message || "");
      $("#qradar-setup").disabled = !q.configured;
      $("#qradar-deploy").disabled = !q.configured;
      renderQRadarObjects(q);
    } catch (e) {
      const box = $("#qradar-state");
      box.className = "notification notification-error";
      box.textContent = "The QRadar state could not be loaded: " + e.message;
    }
    if (withSearches || !searchesLoaded) loadSearches();
    if (!$("#panel-qradar").hidden) qradarTimer = setTimeout(() => loadQRadar(false), QRADAR_POLL_MS);
  }

  async function loadSearches() {
    const box = $("#searches");
    try {
      const list = await api("GET", "api/searches");
      searchesLoaded = true;
      if (!list.length) {
        box.replaceChildren(el("p", { class: "helper" }, qradarInfo && !qradarInfo.configured
          ? "Searches run through QRadar's API. " + qradarInfo.message + "."
          : "No searches are available."));
        return;
      }
      box.replaceChildren(...list.map(searchItem));
    } catch (e) {
      box.replaceChildren(el("div", { class: "notification notification-error" }, "The searches could not be loaded: " + e.message));
    }
  }

  let searchSeq = 0;
  function searchItem(s) {
    const n = ++searchSeq;
    const range = el("select", { id: "search-range-" + n },
      el("option", { value: "1" }, "Last hour"),
      el("option", { value: "24", selected: true }, "Last 24 hours"),
      el("option", { value: "168" }, "Last 7 days"));
    const run = el("button", { type: "button", class: "btn btn-primary btn-sm" }, "Run");
    const copy = el("button", { type: "button", class: "btn btn-ghost btn-sm" }, "Copy AQL");
    const result = el("div", { class: "search-result", "aria-live": "polite" });
    const title = el("h3", { id: "search-title-" + n }, s.name);
    run.setAttribute("aria-describedby", title.id);
    copy.setAttribute("aria-describedby", title.id);
    run.addEventListener("click", async () => {
      run.disabled = true;
      result.replaceChildren(el("p", { class: "helper" }, "Running… (up to 30 seconds)"));
      try {
        const r = await api("POST", "api/searches/" + encodeURIComponent(s.name) + "/run", { last_hours: Number(range.value) });
        result.replaceChildren(resultTable(r.rows || []));
      } catch (e) {
        result.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "The search failed. "), e.message));
      } finally {
        run.disabled = false;
      }
    });
    copy.addEventListener("click", () => copyText(s.aql));
    return el("div", { class: "search" },
      el("div", { class: "search-head" },
        el("div", {}, title, el("p", {}, s.description || "")),
        el("div", { class: "search-controls" },
          el("div", { class: "field" }, el("label", { for: range.id }, "Time range"), range), run, copy)),
      el("pre", {}, el("code", {}, s.aql)),
      result);
  }

  function resultTable(rows) {
    if (!rows.length) return el("p", { class: "helper" }, "No rows.");
    const cols = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))];
    const cell = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
    return el("div", {},
      el("p", { class: "helper" }, rows.length + (rows.length === 1 ? " row" : " rows")),
      el("div", { class: "table-wrap" }, el("table", { class: "data-table" },
        el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, c)))),
        el("tbody", {}, rows.map((r) => el("tr", {}, cols.map((c) => el("td", {}, cell(r[c])))))))));
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const ta = el("textarea", { "aria-hidden": "true" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    toast("success", "AQL copied.", "Paste it into Log Activity → Advanced Search.");
  }

  $("#qradar-setup").addEventListener("click", async () => {
    try {
      const r = await api("POST", "api/qradar/setup");
      toast("success", "Set-up started.", (r && r.message) || "");
    } catch (e) {
      toast("error", "Set-up not started:", e.message);
    }
    setTimeout(() => loadQRadar(false), 1000);
  });

  $("#qradar-deploy").addEventListener("click", async () => {
    const yes = await confirmDialog({
      label: "Deploy changes",
      title: "Deploy all staged changes in QRadar?",
      body: "QRadar deploys every staged change at once, including changes other administrators have staged and not deployed yet. Continue only if that is intended.",
      ok: "Deploy",
      danger: true,
    });
    if (!yes) return;
    try {
      const r = await api("POST", "api/qradar/deploy");
      toast("success", "Deploy requested.", (r && r.message) || "");
    } catch (e) {
      toast("error", "Not deployed:", e.message);
    }
    loadQRadar(false);
  });

  // ---- Administration: proxy, import/export, audit trail ---------------------------

  function loadAdmin() {
    loadProxy();
    loadAudit(true);
  }

  function proxyError(e) {
    const box = $("#proxy-error");
    if (!e) { box.hidden = true; box.textContent = ""; return; }
    const f = e.fields || {};
    const labels = { proxy_url: "Proxy URL", proxy_username: "User name", proxy_password: "Password" };
    const parts = Object.keys(f).map((k) => (labels[k] || k) + " " + f[k] + ".");
    box.textContent = parts.length ? parts.join(" ") : e.message;
    box.hidden = false;
  }

  function fillProxy(s) {
    $("#px-url").value = s.proxy_url || "";
    $("#px-username").value = s.proxy_username || "";
    const pw = $("#px-password");
    pw.value = "";
    pw.placeholder = s.proxy_password_set ? "•••••••• (unchanged)" : "";
    const st = $("#px-password-state");
    st.textContent = s.proxy_password_set ? "Set. Leave empty to keep it; type a new value to replace it." : "Not set";
    st.classList.toggle("is-set", !!s.proxy_password_set);
    $("#px-environment").textContent = s.proxy_url
      ? "Mimecast requests use this proxy."
      : s.proxy_environment ? "No proxy set here: the environment's applies (" + s.proxy_environment + ")."
        : "No proxy set here or in the environment: Mimecast is reached directly.";
  }

  async function loadProxy() {
    try {
      fillProxy(await api("GET", "api/settings"));
    } catch (e) {
      proxyError(e);
    }
  }

  async function saveProxy(body, done) {
    proxyError(null);
    try {
      const s = await api("PUT", "api/settings", body);
      fillProxy(s);
      toast("success", "Saved.", done(s));
      loadAudit(true);
    } catch (e) {
      proxyError(e);
    }
  }

  $("#proxy-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { proxy_url: $("#px-url").value.trim(), proxy_username: $("#px-username").value.trim() };
    const pw = $("#px-password").value;
    if (pw) body.proxy_password = pw;
    saveProxy(body, (s) => (s.proxy_url ? "Mimecast requests now go through " + s.proxy_url + "." : "No proxy is set here any more."));
  });
  $("#px-remove").addEventListener("click", () => saveProxy({ proxy_url: "" }, () => "The proxy was removed."));

  // Import: the file is checked with a dry run, the dialog shows what
  // would happen, and only a confirmation imports it.
  async function importFile(file) {
    const out = $("#import-result");
    let doc;
    try {
      doc = JSON.parse(await file.text());
    } catch (e) {
      out.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Not imported. "), file.name + " is not a JSON file."));
      return;
    }
    let preview;
    try {
      preview = await api("POST", "api/config/import?dry_run=1", doc);
    } catch (e) {
      out.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Not imported. "), e.message));
      return;
    }
    const n = preview.created.length;
    $("#import-title").textContent = n ? "Import " + n + (n === 1 ? " account" : " accounts") + " from " + file.name + "?" : "Nothing to import from " + file.name;
    $("#import-preview").replaceChildren(...importLists(preview));
    const target = preview.syslog_target || {};
    $("#import-target-field").hidden = !target.in_file;
    $("#import-apply-target").checked = false;
    $("#import-target-help").textContent = target.in_file ? "The file sends events to " + target.in_file +
      ". Leave this off when the app moved to another QRadar: the file's target is probably the old one." : "";
    $("#import-ok").disabled = n === 0 && !target.in_file;
    const d = $("#import-dialog");
    d.returnValue = "";
    const ok = await new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
      d.showModal();
      $("#import-cancel").focus();
    });
    if (!ok) return;
    try {
      const res = await api("POST", "api/config/import", Object.assign({}, doc, { apply_syslog_target: $("#import-apply-target").checked }));
      out.replaceChildren(el("div", { class: "notification " + (res.failed.length ? "notification-warning" : "notification-success") + " import-summary" },
        el("strong", {}, "Imported: " + res.message + ". "), res.syslog_target && res.syslog_target.in_file ? "Syslog target: " + res.syslog_target.note + "." : "",
        ...importLists(res)));
      await refresh();
      loadAudit(true);
      syslog.loaded = false;
    } catch (e) {
      out.replaceChildren(el("div", { class: "notification notification-error" }, el("strong", {}, "Not imported. "), e.message));
    }
  }

  function importLists(res) {
    const list = (title, items) => (items.length ? [el("p", { class: "import-list-title" }, el("strong", {}, title)), el("ul", { class: "import-list" }, items)] : []);
    return [
      ...list(res.dry_run ? "To be created" : "Created", res.created.map((c) => el("li", {}, c.name, c.note ? " — disabled: " + c.note : ""))),
      ...list("Skipped", res.skipped.map((p) => el("li", {}, p.name + ": " + p.reason))),
      ...list("Cannot be imported", res.failed.map((p) => el("li", {}, p.name + ": " + p.reason +
        (p.fields ? " (" + Object.entries(p.fields).map(([k, v]) => k + " " + v).join("; ") + ")" : "")))),
    ];
  }

  $("#config-import-file").addEventListener("change", async (ev) => {
    const input = ev.target;
    const file = input.files && input.files[0];
    if (file) await importFile(file);
    input.value = ""; // the same file can be chosen again
  });

  // Audit trail.
  const AUDIT_ACTIONS = {
    account_create: "Account added",
    account_update: "Account changed",
    account_enable: "Account enabled",
    account_disable: "Account disabled",
    account_delete: "Account deleted",
    collect_now: "Collection started",
    stream_backfill_requested: "Re-collection requested",
    stream_backfill_cancelled: "Re-collection cancelled",
    settings_update: "Settings changed",
    config_export: "Configuration exported",
    config_import: "Configuration imported",
    support_bundle: "Support bundle downloaded",
    qradar_setup: "QRadar set-up started",
    qradar_deploy: "QRadar deploy requested",
    qradar_change: "QRadar change",
  };
  let auditOldest = 0;

  async function loadAudit(fresh) {
    const body = $("#audit-table tbody");
    try {
      const entries = await api("GET", "api/audit?limit=50" + (fresh || !auditOldest ? "" : "&before=" + auditOldest));
      const rows = entries.map((e) => el("tr", {},
        timeCell(e.time, ""),
        el("td", {}, e.actor),
        el("td", {}, AUDIT_ACTIONS[e.action] || e.action),
        el("td", {}, e.target || "–"),
        el("td", { class: "details-cell" }, Object.entries(e.details || {}).filter(([k]) => k !== "account_id")
          .map(([k, v]) => k.replace(/_/g, " ") + ": " + v).join("; ") || "–")));
      if (fresh) body.replaceChildren(...rows); else body.append(...rows);
      if (fresh && !entries.length) body.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: 5 }, "No configuration changes yet.")));
      if (entries.length) auditOldest = entries[entries.length - 1].id;
      $("#audit-more").hidden = entries.length < 50;
    } catch (e) {
      body.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: 5 }, "The audit trail could not be loaded: " + e.message)));
    }
  }
  $("#audit-more").addEventListener("click", () => loadAudit(false));

  // ---- Start ---------------------------------------------------------------------

  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  let startTab = tabs[0];
  try {
    const kept = sessionStorage.getItem("mcq-tab");
    startTab = tabs.find((t) => t.id === kept) || tabs[0];
  } catch (e) { /* ignore */ }
  selectTab(startTab, false);
  refresh().then(schedulePoll);
})();
