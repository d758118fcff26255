// Small pieces every part of the page uses: the element lookup, what the browser keeps
// (local storage), the toast, debouncing, numbers and times, a button that asks twice.

import { ApiError } from "./api.js";
import { h } from "./transcript.js";

export const $ = (id) => document.getElementById(id);

export const saved = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem("codexkit:" + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      if (value === undefined || value === null || value === "") localStorage.removeItem("codexkit:" + key);
      else localStorage.setItem("codexkit:" + key, JSON.stringify(value));
    } catch {
      /* private mode or full: the page works without it */
    }
  },
};

let toastTimer;
export function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function failed(err) {
  toast(err instanceof ApiError ? err.message : String(err));
}

const later = new Map();
export function debounce(key, fn, ms = 120) {
  clearTimeout(later.get(key));
  later.set(key, setTimeout(() => { later.delete(key); fn(); }, ms));
}

// Today's times as hh:mm, older ones as a date: enough to tell sessions apart.
export function when(seconds) {
  if (!seconds) return "";
  const at = new Date(seconds * 1000);
  const today = new Date().toDateString() === at.toDateString();
  return today ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function fmt(n) {
  if (typeof n !== "number") return "–";
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

// A button that asks again before it acts (no dialog: keyboard and tests alike). Whether
// it was asked is kept by its label, so a re-render of the sidebar in between (a frame
// came) does not forget the first click.
const armed = new Map(); // label -> timer
export function confirmButton(label, text, act) {
  const button = h("button", { type: "button", class: "small danger", text: armed.has(label) ? "Sure?" : text, "aria-label": label });
  button.addEventListener("click", () => {
    if (armed.has(label)) {
      clearTimeout(armed.get(label));
      armed.delete(label);
      button.textContent = text;
      act();
      return;
    }
    button.textContent = "Sure?";
    armed.set(label, setTimeout(() => {
      armed.delete(label);
      document.querySelectorAll(`button[aria-label="${CSS.escape(label)}"]`).forEach((b) => { b.textContent = text; });
    }, 4000));
  });
  return button;
}
