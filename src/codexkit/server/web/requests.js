// What the agent waits for: approvals, tool-input questions and calls of the session's
// own tools, each answered inline.

import { h } from "./transcript.js";

const ASKS = {
  "item/commandExecution/requestApproval": "Run this command?",
  execCommandApproval: "Run this command?",
  "item/fileChange/requestApproval": "Apply these file changes?",
  applyPatchApproval: "Apply these file changes?",
  "item/permissions/requestApproval": "Grant these permissions?",
};

export function approvalCard(approval, decide) {
  const d = approval.details || {};
  const buttons = [
    ["Accept", { decision: "accept" }, "primary"],
    ["Accept for session", { decision: "accept", scope: "session" }, ""],
    ["Decline", { decision: "decline" }, "danger"],
  ].map(([label, body, cls]) => h("button", { type: "button", class: cls, text: label,
    onclick: (event) => { disableAll(event.target); decide(body); } }));
  return h("div", { class: "card ask approval", role: "group", "aria-label": "Approval", "data-id": approval.approvalId },
    h("strong", { text: ASKS[approval.method] || "The agent asks for approval" }),
    h("pre", { class: "cmd", text: approval.summary || "" }),
    d.cwd ? h("div", { class: "muted", text: `in ${d.cwd}` }) : null,
    d.reason ? h("p", { text: d.reason }) : null,
    h("div", { class: "buttons" }, buttons));
}

function question(q) {
  const inputs = [];
  const options = Array.isArray(q.options) ? q.options : [];
  options.forEach((o, i) => {
    inputs.push(h("label", { class: "option" },
      h("input", { type: "radio", name: q.id, value: o.label, required: i === 0 }),
      h("span", { text: o.label }),
      o.description ? h("span", { class: "muted", text: ` — ${o.description}` }) : null));
  });
  if (!options.length || q.isOther) {
    inputs.push(h("input", { type: q.isSecret ? "password" : "text", name: `${q.id}::other`,
      placeholder: options.length ? "Something else" : "Your answer", "aria-label": q.question || q.id,
      autocomplete: "off" }));
  }
  return h("fieldset", {},
    h("legend", { text: q.header || q.id }),
    q.question ? h("p", { text: q.question }) : null,
    inputs);
}

function answersOf(form, questions) {
  const data = new FormData(form);
  const answers = {};
  for (const q of questions) {
    const other = String(data.get(`${q.id}::other`) || "").trim();
    const picked = data.get(q.id);
    const value = other || (picked === null ? "" : String(picked));
    answers[q.id] = { answers: value ? [value] : [] };
  }
  return answers;
}

export function toolInputCard(request, decide) {
  const questions = Array.isArray(request.questions) ? request.questions : [];
  const form = h("form", { class: "card ask tool-input", "aria-label": "The agent asks", "data-id": request.requestId },
    h("strong", { text: "The agent asks" }),
    questions.map(question),
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary", text: "Answer" }),
      h("button", { type: "button", class: "danger", text: "Decline",
        onclick: (event) => { disableAll(event.target); decide({ decision: "decline" }); } })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const answers = answersOf(form, questions); // before disabling: FormData skips disabled inputs
    disableAll(event.submitter || form);
    decide({ decision: "accept", answers });
  });
  // Radio options are not required when "something else" may be typed instead.
  if (questions.some((q) => q.isOther)) form.querySelectorAll("input[type=radio]").forEach((r) => { r.required = false; });
  return form;
}

export function toolCallCard(call, respond) {
  const reply = h("textarea", { rows: 2, "aria-label": `Result of ${call.tool}`, placeholder: "What the tool returns" });
  const send = (success) => (event) => {
    disableAll(event.target);
    respond({ response: { success, contentItems: [{ type: "inputText", text: reply.value }] } });
  };
  return h("div", { class: "card ask tool-call", role: "group", "aria-label": "Tool call", "data-id": call.requestId },
    h("strong", { text: `The agent calls the tool ${call.namespace ? call.namespace + "." : ""}${call.tool}` }),
    h("pre", { text: JSON.stringify(call.arguments ?? {}, null, 2) }),
    reply,
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "primary", text: "Return result", onclick: send(true) }),
      h("button", { type: "button", class: "danger", text: "Return failure", onclick: send(false) })));
}

function disableAll(inside) {
  const card = inside.closest(".card") || inside;
  card.querySelectorAll("button, input, textarea").forEach((el) => { el.disabled = true; });
  card.classList.add("answering");
}
