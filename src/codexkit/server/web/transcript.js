// The transcript of one session: entries of the server's transcript (by messageId), plus
// what only streams live (message and command output deltas, reasoning, plans).
// Everything the agent wrote is put in as text (textContent), never as HTML.

const PAGE = 150; // entries rendered at first; older ones load as you scroll up

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function parse(details) {
  if (!details) return {};
  if (typeof details === "object") return details;
  try {
    return JSON.parse(details) || {};
  } catch {
    return {};
  }
}

// Text with ``` fences as code blocks; the rest keeps its line breaks (CSS pre-wrap).
export function richText(text) {
  const box = h("div", { class: "text" });
  const parts = String(text || "").split(/```/);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      const code = part.replace(/^[\w+-]*\n/, "");
      box.append(h("pre", { class: "code" }, h("code", { text: code })));
    } else if (part.trim()) {
      box.append(h("p", { text: part.replace(/^\n+|\n+$/g, "") }));
    }
  });
  return box;
}

// A unified diff with its lines coloured; a new or deleted file's diff is its whole text,
// every line added or removed.
export function diffView(diff, change = "update") {
  const pre = h("pre", { class: "diff" });
  const whole = change === "add" ? "add" : change === "delete" ? "del" : null;
  for (const line of String(diff || "").replace(/\n$/, "").split("\n")) {
    let kind = "ctx";
    if (whole) kind = whole;
    else if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
    else if (line.startsWith("+")) kind = "add";
    else if (line.startsWith("-")) kind = "del";
    else if (line.startsWith("@@")) kind = "hunk";
    pre.append(h("span", { class: `line ${kind}`, text: line + "\n" }));
  }
  return pre;
}

function statusBadge(status) {
  return status ? h("span", { class: `badge ${status}`, text: status }) : null;
}

function jsonDetails(label, value) {
  if (value === undefined || value === null) return null;
  return h("details", { class: "raw" }, h("summary", { text: label }),
    h("pre", { text: JSON.stringify(value, null, 2) }));
}

function commandCard(entry, d, live) {
  const output = live.output ?? d.aggregatedOutput ?? "";
  const exit = d.exitCode ?? null;
  const state = d.status || entry.status;
  return h("div", { class: "card command" },
    h("div", { class: "card-head" },
      h("code", { class: "cmd", text: "$ " + (d.command || entry.content) }),
      statusBadge(state),
      exit === null ? null : h("span", { class: `exit ${exit === 0 ? "ok" : "bad"}`, text: `exit ${exit}` })),
    d.cwd ? h("div", { class: "muted", text: d.cwd }) : null,
    output ? h("pre", { class: "output", text: output }) : null);
}

// Paths inside the session's directory are shown relative to it.
function shortPath(path, cwd) {
  const p = String(path || "");
  return cwd && p.startsWith(cwd.replace(/\/$/, "") + "/") ? p.slice(cwd.replace(/\/$/, "").length + 1) : p;
}

function fileChangeCard(entry, d, cwd) {
  const changes = Array.isArray(d.changes) ? d.changes : [];
  return h("div", { class: "card files" },
    h("div", { class: "card-head" }, h("strong", { text: "File changes" }), statusBadge(d.status || entry.status)),
    changes.map((c) => {
      const kind = (c.kind && c.kind.type) || "update";
      return h("div", { class: "file" },
        h("div", { class: "path", title: c.path || "" }, h("span", { class: "kind", text: kind }), " ", shortPath(c.path, cwd)),
        diffView(c.diff, kind));
    }));
}

function toolCard(entry, d) {
  const name = d.tool ? (d.server ? `${d.server} · ${d.tool}` : d.tool) : entry.type;
  const result = d.result ?? d.contentItems ?? null;
  return h("div", { class: "card tool" },
    h("div", { class: "card-head" }, h("strong", { text: `tool: ${name}` }), statusBadge(d.status || entry.status),
      d.success === false ? h("span", { class: "exit bad", text: "failed" }) : null),
    jsonDetails("arguments", d.arguments),
    jsonDetails("result", result),
    d.error ? h("div", { class: "error-text", text: typeof d.error === "string" ? d.error : JSON.stringify(d.error) }) : null);
}

function entryView(entry, live, cwd) {
  const d = parse(entry.details);
  if (entry.role === "user") {
    return h("div", { class: "bubble user" }, richText(entry.content));
  }
  if (entry.role === "assistant") {
    const text = live.text !== undefined && entry.status === "streaming" ? live.text : entry.content;
    return h("div", { class: `bubble assistant ${entry.status}` }, richText(text));
  }
  if (entry.type === "error") {
    return h("div", { class: "card error" }, h("strong", { text: "Error" }), h("div", { class: "error-text", text: entry.content }));
  }
  if (entry.type === "commandExecution") return commandCard(entry, d, live);
  if (entry.type === "fileChange") return fileChangeCard(entry, d, cwd);
  if (entry.type === "mcpToolCall" || entry.type === "dynamicToolCall" || entry.type === "collabAgentToolCall") {
    return toolCard(entry, d);
  }
  return h("div", { class: "card other" },
    h("div", { class: "card-head" }, h("strong", { text: entry.type }), statusBadge(entry.status)),
    entry.content && entry.content !== entry.type ? richText(entry.content) : null,
    jsonDetails("details", Object.keys(d).length ? d : null));
}

function planView(plan) {
  const steps = Array.isArray(plan.plan) ? plan.plan : [];
  return h("div", { class: "card plan" },
    h("strong", { text: "Plan" }),
    plan.explanation ? h("p", { text: plan.explanation }) : null,
    h("ol", {}, steps.map((s) => h("li", { class: `step ${s.status || ""}` },
      h("span", { class: "step-state", text: s.status === "completed" ? "✓" : s.status === "inProgress" ? "▸" : "○" }),
      " ", s.step || ""))));
}

export class Transcript {
  constructor(root) {
    this.root = root;
    this.items = new Map(); // key -> {entry, live, el}
    this.cwd = "";
    this.order = []; // keys in the order they came
    this.shownFrom = 0; // index in order of the first rendered item
    this.more = h("button", { type: "button", class: "more", text: "Show earlier entries", onclick: () => this.showEarlier() });
    this.watcher = new IntersectionObserver((seen) => {
      if (seen.some((e) => e.isIntersecting)) this.showEarlier();
    }, { root: this.root });
  }

  load(entries, cwd = "") {
    this.cwd = cwd; // the session's directory: paths under it are shown relative to it
    this.root.replaceChildren();
    this.items.clear();
    this.order = [];
    for (const entry of entries) {
      this.items.set(entry.messageId, { entry, live: {}, el: null });
      this.order.push(entry.messageId);
    }
    this.shownFrom = Math.max(0, this.order.length - PAGE);
    for (const key of this.order.slice(this.shownFrom)) this.root.append(this.render(key));
    this.updateMore();
    this.scrollToEnd();
  }

  showEarlier() {
    if (this.shownFrom === 0) return;
    const from = Math.max(0, this.shownFrom - PAGE);
    const height = this.root.scrollHeight;
    const first = this.more.nextSibling;
    for (const key of this.order.slice(from, this.shownFrom)) this.root.insertBefore(this.render(key), first);
    this.shownFrom = from;
    this.updateMore();
    this.root.scrollTop += this.root.scrollHeight - height; // keep what you were reading in place
  }

  updateMore() {
    if (this.shownFrom > 0) {
      if (!this.more.isConnected) this.root.prepend(this.more);
      this.watcher.observe(this.more);
    } else {
      this.watcher.unobserve(this.more);
      this.more.remove();
    }
  }

  render(key) {
    const item = this.items.get(key);
    const el = item.entry.kind === "plan" ? planView(item.entry.plan)
      : item.entry.kind === "reasoning" ? h("div", { class: "card reasoning" }, h("strong", { text: "Reasoning" }), richText(item.live.text || ""))
      : entryView(item.entry, item.live, this.cwd);
    el.classList.add("entry");
    el.dataset.key = key;
    if (item.entry.turnId) el.dataset.turn = item.entry.turnId;
    item.el = el;
    return el;
  }

  // Puts or refreshes one item; new items go at the end.
  upsert(key, entry, live) {
    const stick = this.atEnd();
    let item = this.items.get(key);
    if (!item) {
      item = { entry, live: live || {}, el: null };
      this.items.set(key, item);
      this.order.push(key);
      this.root.append(this.render(key));
    } else {
      item.entry = entry;
      if (live) item.live = live;
      const old = item.el;
      const fresh = this.render(key);
      if (old && old.isConnected) old.replaceWith(fresh);
    }
    if (stick) this.scrollToEnd();
  }

  put(entry) {
    const known = this.items.get(entry.messageId);
    // A finished entry carries its whole text: what streamed live is no longer needed.
    const live = known && entry.status === "streaming" ? known.live : {};
    this.upsert(entry.messageId, entry, live);
  }

  delta(itemId, field, text) {
    const item = this.items.get(itemId);
    if (!item) return; // its entry comes first; a delta before it is part of its text
    const live = { ...item.live, [field]: (item.live[field] ?? (field === "output" ? "" : item.entry.content || "")) + text };
    this.upsert(itemId, item.entry, live);
  }

  reasoning(itemId, text) {
    const key = "reasoning:" + itemId;
    const item = this.items.get(key);
    this.upsert(key, { kind: "reasoning" }, { text: ((item && item.live.text) || "") + text });
  }

  plan(turnId, plan) {
    this.upsert("plan:" + turnId, { kind: "plan", plan, turnId });
  }

  atEnd() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 80;
  }

  scrollToEnd() {
    this.root.scrollTop = this.root.scrollHeight;
  }
}
