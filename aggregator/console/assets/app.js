"use strict";
// The alarm console: log in, list the park's open alarms, act on them.
// Every state-changing request carries the session's CSRF token.

const T = {
  zh: {
    title: "报警处置", login: "登录", logout: "退出", user: "用户名", password: "密码",
    unacked: "未确认报警", acked: "已确认未关闭", raised: "发生时间", site: "企业", point: "位号",
    condition: "类型", state: "状态", value: "值", actions: "操作", ackedby: "确认人", cause: "原因",
    measures: "措施", reason: "理由", minutes: "时长（分钟）", submit: "提交", cancel: "取消",
    ack: "确认", shelve: "搁置", unshelve: "取消搁置", close: "关闭",
    active: "报警中", cleared: "已恢复", shelvedUntil: "搁置至", park: "园区",
    badLogin: "用户名或密码错误", siteWide: "（全厂）", failed: "操作失败",
  },
  en: {
    title: "Alarm disposition", login: "Log in", logout: "Log out", user: "User", password: "Password",
    unacked: "Unacknowledged alarms", acked: "Acknowledged, not closed", raised: "Raised", site: "Site", point: "Point",
    condition: "Condition", state: "State", value: "Value", actions: "Actions", ackedby: "Acknowledged by", cause: "Cause",
    measures: "Measures", reason: "Reason", minutes: "Duration (minutes)", submit: "Submit", cancel: "Cancel",
    ack: "Acknowledge", shelve: "Shelve", unshelve: "Unshelve", close: "Close",
    active: "active", cleared: "cleared", shelvedUntil: "shelved until", park: "Park",
    badLogin: "Wrong user or password", siteWide: "(site)", failed: "Action failed",
  },
};

let lang = localStorage.getItem("lifeline-console-lang") || "zh";
let session = null;
let pending = null; // {action, alarm} of the open dialog

const $ = (sel) => document.querySelector(sel);
const t = (k) => (T[lang] && T[lang][k]) || T.zh[k] || k;

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = "Lifeline " + t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("#lang").value = lang;
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && session) opts.headers["X-CSRF-Token"] = session.csrf;
  const res = await fetch(path, opts);
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty body */ }
  return { status: res.status, data };
}

function local(ts) {
  return ts ? new Date(ts).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "";
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function button(td, action, alarm) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = action;
  b.textContent = t(action);
  b.addEventListener("click", () => openDialog(action, alarm));
  td.appendChild(b);
}

function stateText(a) {
  let s = a.active ? t("active") : t("cleared");
  if (a.shelved) s += " · " + t("shelvedUntil") + " " + local(a.shelved_until);
  return s;
}

function row(a, acked) {
  const tr = document.createElement("tr");
  tr.dataset.id = a.id;
  if (a.active) tr.classList.add("active");
  if (a.shelved) tr.classList.add("shelved");
  cell(tr, local(a.raised_at));
  cell(tr, a.site_id);
  cell(tr, a.point_id || t("siteWide"));
  cell(tr, a.condition);
  cell(tr, stateText(a));
  if (acked) {
    cell(tr, a.acked_by + " " + local(a.acked_at));
    cell(tr, a.cause);
    cell(tr, a.measures);
  } else {
    cell(tr, a.unit ? a.value + " " + a.unit : String(a.value));
  }
  const td = cell(tr, "");
  if (!acked) button(td, "ack", a);
  button(td, a.shelved ? "unshelve" : "shelve", a);
  if (acked && !a.active) button(td, "close", a);
  return tr;
}

async function refresh() {
  const { status, data } = await api("GET", "/api/alarms");
  if (status === 401) return showLogin();
  if (status !== 200) { $("#error").textContent = data.error || t("failed"); return; }
  $("#error").textContent = "";
  const un = $("#unacked tbody"), ac = $("#acked tbody");
  un.replaceChildren(); ac.replaceChildren();
  let nu = 0, na = 0;
  for (const a of data.alarms) {
    if (a.acknowledged) { ac.appendChild(row(a, true)); na++; } else { un.appendChild(row(a, false)); nu++; }
  }
  $("#unacked-count").textContent = nu;
  $("#acked-count").textContent = na;
}

function openDialog(action, alarm) {
  pending = { action, alarm };
  $("#action-title").textContent = t(action);
  $("#action-alarm").textContent = `${alarm.site_id} ${alarm.point_id || t("siteWide")} ${alarm.condition} ${local(alarm.raised_at)}`;
  const needs = {
    ack: ["cause", "measures"], close: ["cause", "measures"], shelve: ["reason", "minutes"], unshelve: ["reason"],
  }[action];
  for (const f of ["cause", "measures", "reason", "minutes"]) {
    $(".for-" + f).hidden = !needs.includes(f);
  }
  $("#cause").value = action === "close" ? alarm.cause : "";
  $("#measures").value = action === "close" ? alarm.measures : "";
  $("#reason").value = "";
  $("#minutes").max = session.max_shelve_min;
  $("#action-error").textContent = "";
  $("#dialog").showModal();
}

async function submitAction(ev) {
  ev.preventDefault();
  const { action, alarm } = pending;
  const body = { id: alarm.id };
  if (action === "ack" || action === "close") {
    body.cause = $("#cause").value;
    body.measures = $("#measures").value;
  } else {
    body.reason = $("#reason").value;
  }
  if (action === "shelve") body.minutes = parseInt($("#minutes").value, 10) || 0;
  const { status, data } = await api("POST", "/api/alarms/" + action, body);
  if (status !== 200) { $("#action-error").textContent = data.error || t("failed"); return; }
  $("#dialog").close();
  await refresh();
}

function showLogin() {
  session = null;
  $("#console").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
}

function showConsole() {
  $("#login").hidden = true;
  $("#console").hidden = false;
  $("#logout").hidden = session.proxied;
  $("#who").textContent = `${t("park")}: ${session.park} · ${session.user}`;
  return refresh();
}

async function login(ev) {
  ev.preventDefault();
  const { status, data } = await api("POST", "/api/login", { user: $("#user").value, password: $("#password").value });
  if (status !== 200) { $("#login-error").textContent = t("badLogin"); return; }
  $("#login-error").textContent = "";
  $("#password").value = "";
  session = data;
  await showConsole();
}

async function start() {
  applyLang();
  $("#lang").addEventListener("change", () => {
    lang = $("#lang").value;
    localStorage.setItem("lifeline-console-lang", lang);
    applyLang();
    if (session) showConsole();
  });
  $("#login").addEventListener("submit", login);
  $("#action-form").addEventListener("submit", submitAction);
  $("#action-cancel").addEventListener("click", () => $("#dialog").close());
  $("#logout").addEventListener("click", async () => { await api("POST", "/api/logout"); showLogin(); });
  const { status, data } = await api("GET", "/api/session");
  if (status === 200 && data.logged_in) { session = data; await showConsole(); } else { showLogin(); }
  setInterval(() => { if (session) refresh(); }, 15000);
}

start();
