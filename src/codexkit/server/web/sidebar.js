// The sidebar: projects and their sessions (newest first), each with the number of
// requests that wait for a person; a project's own rename and delete.

import { del, enc, post } from "./api.js";
import { h } from "./transcript.js";
import { $, confirmButton, failed, toast, when } from "./ui.js";

export function titleOf(s) {
  return (s && s.title) || "Untitled session";
}

export function pendingCount(state, id) {
  const p = state.pending.get(id);
  return p ? p.approvals.length + p.toolInput.length + p.toolCalls.length : 0;
}

export function renderProjectChoices(state) {
  const choices = () => [h("option", { value: "", text: "No project" }),
    ...state.projects.map((p) => h("option", { value: p.projectId, text: p.name }))];
  const keep = $("new-project").value;
  $("new-project").replaceChildren(...choices());
  $("new-project").value = keep;
  $("move-project").replaceChildren(...choices());
  const s = state.sessions.get(state.current);
  $("move-project").value = (s && s.projectId) || "";
}

export function renderSidebar(state, actions) {
  const list = $("session-list");
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
  const groups = [{ id: null, name: "No project" }, ...state.projects.map((p) => ({ id: p.projectId, name: p.name, project: p }))];
  const sessions = [...state.sessions.values()].sort((a, b) => (b.updatedAt || 0) - (a.updatedAt || 0));
  const sections = [];
  for (const group of groups) {
    const mine = sessions.filter((s) => (s.projectId || null) === group.id);
    if (group.id === null && !mine.length) continue;
    sections.push(h("section", { class: "group", "aria-label": group.name },
      h("div", { class: "group-head" }, h("h2", { text: group.name }), group.project ? projectActions(group.project, actions) : null),
      mine.length ? h("ul", {}, mine.map((s) => sessionItem(state, s, actions))) : h("p", { class: "muted small", text: "No sessions" })));
  }
  if (!sections.length) sections.push(h("p", { class: "muted", text: "No sessions yet." }));
  list.replaceChildren(...sections);
  if (focused) {
    const again = list.querySelector(`[data-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function sessionItem(state, s, actions) {
  const count = pendingCount(state, s.sessionId);
  const current = s.sessionId === state.current;
  return h("li", {}, h("button", {
    type: "button", class: "session-link" + (current ? " current" : ""), "data-id": s.sessionId,
    "aria-current": current ? "page" : null, onclick: () => actions.open(s.sessionId),
  },
  h("span", { class: "name", text: titleOf(s) }),
  h("time", { class: "when", datetime: new Date((s.updatedAt || 0) * 1000).toISOString(), text: when(s.updatedAt) }),
  s.archived ? h("span", { class: "tag", text: "archived" }) : null,
  count ? h("span", { class: "count", title: `${count} waiting for you`, "aria-label": `${count} waiting for you`, text: String(count) }) : null));
}

function projectActions(project, actions) {
  const rename = h("button", { type: "button", class: "small", text: "Rename", "aria-label": `Rename project ${project.name}`,
    onclick: () => {
      const input = h("input", { value: project.name, "aria-label": "Project name", maxlength: 120 });
      const form = h("form", { class: "row" }, input, h("button", { type: "submit", class: "small", text: "Save" }));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await post(`/projects/${enc(project.projectId)}/rename`, { name: input.value.trim() });
          await actions.reloadProjects();
        } catch (err) { failed(err); }
      });
      rename.parentElement.replaceWith(form);
      input.focus();
    } });
  const remove = confirmButton(`Delete project ${project.name}`, "Delete", async () => {
    try {
      await del(`/projects/${enc(project.projectId)}`);
      await actions.reloadProjects();
    } catch (err) {
      if (err.body && err.body.code === "project_not_empty") toast("Move or delete its sessions first.");
      else failed(err);
    }
  });
  return h("span", { class: "group-actions" }, rename, remove);
}
