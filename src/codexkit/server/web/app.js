// The page of `codexkit serve`: projects and sessions, a live transcript, what the agent
// waits for, a prompt box and the session's controls. State lives on the server; the
// page keeps only the open session (in the address), drafts and token usage (locally).

import { del, enc, get, post } from "./api.js";
import { approvalCard, toolCallCard, toolInputCard } from "./requests.js";
import { renderProjectChoices as renderChoices, renderSidebar as renderList, titleOf } from "./sidebar.js";
import { Stream } from "./stream.js";
import { Transcript, h } from "./transcript.js";
import { $, confirmButton, debounce, failed, fmt, saved, toast } from "./ui.js";

const state = {
  sessions: new Map(), // sessionId -> summary
  projects: [],
  pending: new Map(), // sessionId -> {approvals, toolInput, toolCalls}
  current: null, // the open session's id
  turn: null, // its running turn's id
  buffered: null, // frames of the open session that came while it was being read
  models: [],
};

let transcript;
let stream;

// -- small helpers -------------------------------------------------------------------------

function sessionPath(id, rest = "") {
  return `/sessions/${enc(id)}${rest}`;
}

// -- sign-in -------------------------------------------------------------------------------

async function boot() {
  const query = new URLSearchParams(location.search);
  const linkFailed = query.get("signin") === "failed";
  if (query.has("signin")) history.replaceState(null, "", "/" + location.hash);
  let who;
  try {
    who = await get("/auth/session");
  } catch (err) {
    return showSignin(`The server cannot be reached: ${err.message}`);
  }
  if (!who.signedIn) {
    return showSignin(linkFailed
      ? "That login link was used already or has expired."
      : "This browser is not signed in.");
  }
  if (linkFailed) toast("That login link was used already; this browser is signed in anyway.");
  $("app").hidden = false;
  transcript = new Transcript($("transcript"));
  wire();
  stream = new Stream({ onFrame, onState: showConnection, onGap: reloadAll });
  stream.open();
  await reloadAll();
}

function showSignin(reason) {
  $("signin-reason").textContent = reason;
  $("signin").hidden = false;
}

function showConnection(status) {
  const el = $("conn");
  el.textContent = status === "live" ? "● live" : status === "offline" ? "● offline, reconnecting" : "● connecting";
  el.className = `conn ${status}`;
}

async function reloadAll() {
  try {
    await Promise.all([loadProjects(), loadSessions(), loadModels()]);
  } catch (err) {
    failed(err);
  }
  const wanted = fromAddress(); // it may be archived, so not in the list: read it anyway
  if (wanted) await openSession(wanted, { focus: false });
  await loadPendingCounts();
}

function fromAddress() {
  const match = /^#session=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

// -- projects and sessions -------------------------------------------------------------------

function renderSidebar() {
  renderList(state, { open: (id) => openSession(id), reloadProjects: () => loadProjects() });
}

function renderProjectChoices() {
  renderChoices(state);
}

// Lists are re-read after every change; of reads that overlap, only the last one started
// counts (an older answer may predate the change).
const generation = { projects: 0, sessions: 0 };

async function loadProjects() {
  const mine = ++generation.projects;
  const projects = (await get("/projects")).data || [];
  if (mine !== generation.projects) return;
  state.projects = projects;
  renderProjectChoices();
  renderSidebar();
}

async function listSessions(archived) {
  const found = [];
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const query = `?limit=200&archived=${archived}` + (cursor ? `&cursor=${enc(cursor)}` : "");
    const answer = await get("/sessions" + query);
    found.push(...(answer.data || []));
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  return found;
}

async function loadSessions() {
  const mine = ++generation.sessions;
  const lists = [listSessions(false)];
  if (saved.get("showArchived", false)) lists.push(listSessions(true));
  const all = (await Promise.all(lists)).flat();
  if (mine !== generation.sessions) return;
  state.sessions = new Map(all.map((s) => [s.sessionId, s]));
  renderSidebar();
}

async function loadPendingCounts() {
  // Only a session that ran a turn can have anything waiting.
  const ids = [...state.sessions.values()].filter((s) => s.materialized && !s.archived).map((s) => s.sessionId);
  await Promise.all(ids.slice(0, 100).map((id) => refreshPending(id)));
}

async function loadModels() {
  try {
    state.models = (await get("/models?limit=100")).data || [];
  } catch {
    state.models = []; // not signed in to codex, say: the default model is still there
  }
}

// -- one session -----------------------------------------------------------------------------

async function openSession(id, { focus = true } = {}) {
  if (state.current && state.current !== id) saved.set("draft:" + state.current, $("prompt").value);
  state.current = id;
  state.buffered = [];
  history.replaceState(null, "", "#session=" + enc(id));
  $("empty").hidden = true;
  $("session").hidden = false;
  // Until the session is read, its actions would act on what the list said of it.
  $("session").setAttribute("aria-busy", "true");
  document.querySelector(".session-bar").inert = true;
  closeDrawer();
  renderSidebar();
  let data;
  try {
    data = await get(sessionPath(id));
  } catch (err) {
    if (state.current !== id) return;
    loaded();
    state.current = null;
    state.buffered = null;
    history.replaceState(null, "", "/");
    $("session").hidden = true;
    $("empty").hidden = false;
    if (err.status === 404 || err.status === 410) toast("That session is gone.");
    else failed(err);
    return;
  }
  if (state.current !== id) return;
  state.sessions.set(id, data.session);
  $("title").textContent = titleOf(data.session);
  document.title = `${titleOf(data.session)} · codexkit`;
  transcript.load(data.transcript || [], data.session.cwd || "");
  const turns = (data.thread && data.thread.turns) || [];
  const last = turns[turns.length - 1];
  setTurn(last && last.status === "inProgress" ? last.id : null);
  showControls(data.session);
  showSettings(id);
  showUsage();
  $("prompt").value = saved.get("draft:" + id, "");
  renderSidebar();
  renderProjectChoices();
  loaded();
  await refreshPending(id);
  const frames = state.buffered || [];
  state.buffered = null;
  frames.forEach(applyFrame);
  if (focus) $("prompt").focus();
}

function loaded() {
  $("session").removeAttribute("aria-busy");
  document.querySelector(".session-bar").inert = false;
}

function closeSession() {
  state.current = null;
  history.replaceState(null, "", "/");
  $("session").hidden = true;
  $("empty").hidden = false;
  $("title").textContent = "";
  document.title = "codexkit";
  $("usage").textContent = "";
  setTurn(null);
  renderSidebar();
}

function setTurn(turnId, ended) {
  state.turn = turnId;
  $("interrupt").hidden = !turnId;
  $("send").textContent = turnId ? "Steer" : "Send";
  const note = $("turn-state");
  if (turnId) note.textContent = "working…";
  else note.textContent = ended && ended !== "completed" ? `turn ${ended}` : "";
  note.className = "turn-state" + (turnId ? " busy" : ended && ended !== "completed" ? " bad" : "");
}

function showUsage() {
  const usage = saved.get("usage:" + state.current, null);
  const el = $("usage");
  if (!usage || !usage.total) {
    el.textContent = "";
    return;
  }
  const last = usage.last ? usage.last.totalTokens : null;
  el.textContent = `tokens: ${fmt(last)} last turn · ${fmt(usage.total.totalTokens)} session`;
  el.title = `input ${usage.total.inputTokens}, cached ${usage.total.cachedInputTokens}, output ${usage.total.outputTokens}` +
    (usage.modelContextWindow ? `; context window ${usage.modelContextWindow}` : "");
}

// -- what waits for a person -----------------------------------------------------------------

async function refreshPending(id) {
  const base = sessionPath(id);
  try {
    const [approvals, toolInput, toolCalls] = await Promise.all([
      get(base + "/approvals"), get(base + "/tool-input"), get(base + "/tool-calls")]);
    state.pending.set(id, { approvals: approvals.data || [], toolInput: toolInput.data || [], toolCalls: toolCalls.data || [] });
  } catch (err) {
    if (err.status === 404 || err.status === 410) state.pending.delete(id);
    else return;
  }
  renderSidebar();
  if (id === state.current) renderPending();
}

function renderPending() {
  const box = $("pending");
  const p = state.pending.get(state.current) || { approvals: [], toolInput: [], toolCalls: [] };
  // Cards already shown stay as they are: a half-filled form is not wiped by an update.
  const shown = new Map([...box.children].map((el) => [el.dataset.id, el]));
  const cards = [
    ...p.approvals.map((a) => shown.get(a.approvalId) || approvalCard(a, (body) => decide("approval", a.approvalId, body))),
    ...p.toolInput.map((r) => shown.get(r.requestId) || toolInputCard(r, (body) => decide("tool_input", r.requestId, body))),
    ...p.toolCalls.map((c) => shown.get(c.requestId) || toolCallCard(c, (body) => decide("tool_call", c.requestId, body))),
  ];
  box.replaceChildren(...cards);
}

async function decide(kind, id, body) {
  const path = kind === "approval" ? `/approvals/${enc(id)}/decision`
    : kind === "tool_input" ? `/tool-input/${enc(id)}/decision` : `/tool-calls/${enc(id)}/response`;
  const session = state.current;
  try {
    await post(path, { ...body, source: "web" });
  } catch (err) {
    // 409: someone (or a timeout) decided first; the refresh shows what happened.
    if (err.status !== 409) failed(err);
  }
  await refreshPending(session);
  $("prompt").focus();
}

// -- the live stream -------------------------------------------------------------------------

const REQUEST_FRAMES = new Set(["approval", "approval_resolved", "tool_user_input_requested",
  "tool_user_input_resolved", "tool_call_requested", "tool_call_resolved"]);
const LIST_FRAMES = new Set(["session_deleted", "session_project_updated", "project_upserted",
  "project_deleted", "app_server.thread.started", "app_server.thread.name.updated",
  "app_server.thread.archived", "app_server.thread.unarchived"]);

function onFrame(frame) {
  const p = frame.payload || {};
  const id = frame.threadId || p.sessionId || p.threadId || null;
  if (REQUEST_FRAMES.has(frame.type) && id) debounce("pending:" + id, () => refreshPending(id));
  if (LIST_FRAMES.has(frame.type)) {
    debounce("lists", () => Promise.all([loadProjects(), loadSessions()]).catch(failed), 200);
  }
  if (frame.type === "thread_token_usage_updated" && id) saved.set("usage:" + id, p.tokenUsage);
  if (frame.type === "app_server.turn.started" && id && state.sessions.has(id)) {
    state.sessions.get(id).materialized = true;
  }
  if (frame.type === "session_deleted" && id === state.current) {
    toast("This session was deleted.");
    closeSession();
    return;
  }
  if (id && id === state.current) {
    if (state.buffered) state.buffered.push(frame);
    else applyFrame(frame);
  }
}

function applyFrame(frame) {
  const p = frame.payload || {};
  const params = p.params || {};
  switch (frame.type) {
    case "transcript_updated":
      transcript.put(p.entry);
      break;
    case "app_server.item.agent_message.delta":
      transcript.delta(params.itemId, "text", params.delta || "");
      break;
    case "app_server.item.command_execution.output_delta":
      transcript.delta(params.itemId, "output", params.delta || "");
      break;
    case "app_server.item.reasoning.summary_text_delta":
      transcript.reasoning(params.itemId, params.delta || "");
      break;
    case "turn_plan_updated":
      transcript.plan(p.turnId, p);
      break;
    case "app_server.turn.started":
      setTurn(params.turn ? params.turn.id : p.context.turnId);
      break;
    case "app_server.turn.completed":
      setTurn(null, params.turn && params.turn.status);
      break;
    case "thread_token_usage_updated":
      showUsage();
      break;
    case "app_server_exited":
      toast(`The agent's process stopped (${p.reason || "no reason given"}); it is being restarted.`);
      break;
    default:
      break;
  }
}

// -- the prompt ------------------------------------------------------------------------------

async function sendPrompt() {
  const box = $("prompt");
  const text = box.value.trim();
  const id = state.current;
  if (!text || !id) return;
  try {
    if (state.turn && !(await steered(id, state.turn, text))) {
      setTurn(null); // the turn ended meanwhile (the page had not heard yet): a new one
    }
    if (!state.turn) {
      const accepted = await post(sessionPath(id, "/messages"), { text });
      if (state.current === id && !state.turn) setTurn(accepted.turnId);
    }
    box.value = "";
    saved.set("draft:" + id, "");
  } catch (err) {
    failed(err);
  }
}

// Whether the running turn took `text`; false when it is no longer running (409).
async function steered(id, turnId, text) {
  try {
    await post(sessionPath(id, `/turns/${enc(turnId)}/steer`), { input: text });
    return true;
  } catch (err) {
    if (err.status === 409) return false;
    throw err;
  }
}

async function interrupt() {
  if (!state.current || !state.turn) return;
  try {
    await post(sessionPath(state.current, "/interrupt"), { turnId: state.turn });
  } catch (err) {
    failed(err);
  }
}

// -- controls and actions --------------------------------------------------------------------

function showControls(session) {
  const c = session.sessionControls || {};
  const model = $("c-model");
  const names = state.models.map((m) => m.model || m.id);
  if (c.model && !names.includes(c.model)) names.push(c.model);
  model.replaceChildren(h("option", { value: "", text: "default" }),
    ...names.map((name) => h("option", { value: name, text: name })));
  model.value = c.model || "";
  $("c-approval").value = c.approvalPolicy || "on-request";
  $("c-sandbox").value = c.filesystemSandbox || "workspace-write";
  $("c-network").value = c.networkAccess || "restricted";
  $("controls-note").textContent = "";
  $("archive").textContent = session.archived ? "Unarchive" : "Archive";
  $("move-project").value = session.projectId || "";
}

async function applyControls(event) {
  event.preventDefault();
  const id = state.current;
  const controls = {
    model: $("c-model").value || null,
    approvalPolicy: $("c-approval").value,
    networkAccess: $("c-network").value,
    filesystemSandbox: $("c-sandbox").value,
  };
  try {
    const answer = await post(sessionPath(id, "/session-controls"), { scope: "session", controls, source: "web" });
    $("controls-note").textContent = answer.status === "unchanged" ? "unchanged" : "applied";
    const s = state.sessions.get(id);
    if (s) s.sessionControls = { ...s.sessionControls, ...controls };
  } catch (err) {
    failed(err);
  }
}

// The session's free settings map (scope `session`), edited as JSON and saved whole.
async function showSettings(id) {
  const note = $("settings-note");
  note.textContent = "";
  note.className = "note";
  try {
    const answer = await get(sessionPath(id, "/settings?scope=session"));
    if (state.current === id) $("c-settings").value = JSON.stringify(answer.settings || {}, null, 2);
  } catch (err) {
    failed(err);
  }
}

async function saveSettings(event) {
  event.preventDefault();
  const note = $("settings-note");
  let settings;
  try {
    settings = JSON.parse($("c-settings").value || "{}");
  } catch (err) {
    settings = null;
  }
  if (!settings || typeof settings !== "object" || Array.isArray(settings)) {
    note.textContent = "settings must be a JSON object";
    note.className = "note bad";
    return;
  }
  try {
    const body = { scope: "session", settings, mode: "replace", source: "web" };
    const answer = await post(sessionPath(state.current, "/settings"), body);
    note.textContent = answer.status === "unchanged" ? "unchanged" : "saved";
    note.className = "note";
  } catch (err) {
    note.textContent = err.message;
    note.className = "note bad";
  }
}

async function createSession(event) {
  event.preventDefault();
  const cwd = $("new-cwd").value.trim();
  const project = $("new-project").value;
  try {
    const created = await post("/sessions", cwd ? { cwd } : {});
    const id = created.session.sessionId;
    saved.set("cwd", cwd);
    state.sessions.set(id, created.session);
    if (project) {
      await post(sessionPath(id, "/project"), { projectId: project });
      created.session.projectId = project;
    }
    await openSession(id);
  } catch (err) {
    failed(err);
  }
}

async function createProject(event) {
  event.preventDefault();
  const input = $("new-project-name");
  const name = input.value.trim();
  if (!name) return;
  try {
    await post("/projects", { name });
    input.value = "";
    await loadProjects();
  } catch (err) {
    failed(err);
  }
}

function startRename() {
  const s = state.sessions.get(state.current);
  $("rename-input").value = s ? s.title : "";
  $("rename-form").hidden = false;
  $("rename").hidden = true;
  $("rename-input").focus();
}

function endRename() {
  $("rename-form").hidden = true;
  $("rename").hidden = false;
}

async function rename(event) {
  event.preventDefault();
  const id = state.current;
  const title = $("rename-input").value.trim();
  if (!title) return;
  try {
    const answer = await post(sessionPath(id, "/rename"), { title });
    state.sessions.set(id, answer.session);
    $("title").textContent = titleOf(answer.session);
    endRename();
    renderSidebar();
    await loadSessions();
  } catch (err) {
    failed(err);
  }
}

async function toggleArchive() {
  const id = state.current;
  const s = state.sessions.get(id);
  const archived = s && s.archived;
  try {
    await post(sessionPath(id, archived ? "/unarchive" : "/archive"));
    if (s) s.archived = !archived;
    $("archive").textContent = archived ? "Archive" : "Unarchive";
    if (!archived && !saved.get("showArchived", false)) {
      state.sessions.delete(id);
      closeSession();
      toast("Archived. Tick \u201cShow archived\u201d to see it again.");
    }
    renderSidebar();
    await loadSessions();
  } catch (err) {
    failed(err);
  }
}

async function deleteSession() {
  const id = state.current;
  try {
    await del(sessionPath(id));
    state.sessions.delete(id);
    state.pending.delete(id);
    saved.set("draft:" + id, null);
    saved.set("usage:" + id, null);
    closeSession();
    await loadSessions();
  } catch (err) {
    failed(err);
  }
}

async function moveToProject() {
  const id = state.current;
  const projectId = $("move-project").value || null;
  try {
    await post(sessionPath(id, "/project"), { projectId });
    const s = state.sessions.get(id);
    if (s) s.projectId = projectId;
    renderSidebar();
    await loadSessions();
  } catch (err) {
    failed(err);
  }
}

// -- wiring and the keyboard -----------------------------------------------------------------

function openDrawer() {
  document.body.classList.add("drawer-open");
  $("menu").setAttribute("aria-expanded", "true");
  const first = $("sidebar").querySelector(".session-link.current, .session-link, input");
  if (first) first.focus();
}

function closeDrawer() {
  document.body.classList.remove("drawer-open");
  $("menu").setAttribute("aria-expanded", "false");
}

function stepSession(by) {
  const ids = [...$("session-list").querySelectorAll(".session-link")].map((el) => el.dataset.id);
  if (!ids.length) return;
  const at = ids.indexOf(state.current);
  const next = ids[(at + by + ids.length) % ids.length];
  openSession(next).then(() => {
    const link = $("session-list").querySelector(`[data-id="${CSS.escape(next)}"]`);
    if (link) link.focus();
  });
}

function wire() {
  $("new-cwd").value = saved.get("cwd", "");
  $("show-archived").checked = saved.get("showArchived", false);
  $("new-session").addEventListener("submit", createSession);
  $("new-project-form").addEventListener("submit", createProject);
  $("show-archived").addEventListener("change", (event) => {
    saved.set("showArchived", event.target.checked);
    loadSessions().catch(failed);
  });
  $("controls-form").addEventListener("submit", applyControls);
  $("settings-form").addEventListener("submit", saveSettings);
  $("rename").addEventListener("click", startRename);
  $("rename-cancel").addEventListener("click", endRename);
  $("rename-form").addEventListener("submit", rename);
  $("archive").addEventListener("click", toggleArchive);
  const remove = confirmButton("Delete this session", "Delete", deleteSession);
  remove.classList.remove("small");
  remove.id = "delete";
  $("delete").replaceWith(remove);
  $("move-project").addEventListener("change", moveToProject);
  $("composer").addEventListener("submit", (event) => { event.preventDefault(); sendPrompt(); });
  $("interrupt").addEventListener("click", interrupt);
  $("menu").addEventListener("click", () => {
    if (document.body.classList.contains("drawer-open")) closeDrawer();
    else openDrawer();
  });
  const prompt = $("prompt");
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendPrompt();
    } else if (event.key === "Escape" && state.turn) {
      event.preventDefault();
      interrupt();
    }
  });
  // Kept at every keystroke: a reload (or a crash) right after typing keeps the draft.
  prompt.addEventListener("input", () => saved.set("draft:" + state.current, prompt.value));
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      stepSession(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.altKey && (event.key === "n" || event.key === "N")) {
      event.preventDefault();
      openDrawer();
      $("new-cwd").focus();
    } else if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      closeDrawer();
      $("menu").focus();
    }
  });
  window.addEventListener("hashchange", () => {
    const wanted = fromAddress();
    if (wanted && wanted !== state.current) openSession(wanted);
  });
}

boot();
