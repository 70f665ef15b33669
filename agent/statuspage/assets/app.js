// Lifeline agent status page: polls /api/status and renders it. Every
// value from the agent is set as text (never as HTML).
"use strict";

const texts = {
  zh: {
    title: "生命线采集端", updated: "更新于", stale: "无法连接采集端，显示的是上次数据",
    link: "上传链路", backlog: "缓存积压", sources: "OPC UA 数据源", points: "点位", errors: "最近的错误与警告", gaps: "最近的数据缺失",
    samples: "样本数", batches: "批", size: "大小", oldest: "最早样本", rate: "发送速率", eta: "预计清空", progress: "清空进度",
    source: "数据源", endpoint: "地址", state: "状态", since: "自", lastData: "最后数据", lastError: "最近错误",
    point: "位号", name: "名称", value: "当前值", quality: "质量", sourceTime: "源时间", received: "接收时间",
    hazard: "重大危险源", description: "描述", time: "时间", level: "级别", message: "内容",
    reason: "原因", from: "起", to: "止", gapPoints: "点数",
    connected: "已连接", connecting: "正在连接", reconnecting: "正在重连", down: "中断",
    uplinkUp: "已连接汇聚端", uplinkDown: "未连接汇聚端", draining: "正在补传积压数据",
    empty: "无积压", unknown: "未知", waiting: "等待汇聚端", stalled: "停滞",
    perSecond: "条/秒", shown: "显示 {n} / {m} 个点位", filter: "筛选位号、名称、设备…",
    none: "无", wholeSite: "全厂", outOfService: "停用",
    source_unavailable: "数据源不可读", buffer_full: "缓存已满", disk_full: "磁盘已满",
    buffer_corrupt: "缓存损坏", buffer_unwritable: "缓存不可写", agent_stopped: "采集端停止",
  },
  en: {
    title: "Lifeline agent", updated: "Updated", stale: "agent not reachable; showing the last data",
    link: "Uplink", backlog: "Backlog", sources: "OPC UA sources", points: "Points", errors: "Recent errors and warnings", gaps: "Recent gaps",
    samples: "Samples", batches: "batches", size: "Size", oldest: "Oldest sample", rate: "Drain rate", eta: "ETA", progress: "Drain progress",
    source: "Source", endpoint: "Endpoint", state: "State", since: "Since", lastData: "Last data", lastError: "Last error",
    point: "Point", name: "Name", value: "Value", quality: "Quality", sourceTime: "Source time", received: "Received",
    hazard: "Major hazard source", description: "Description", time: "Time", level: "Level", message: "Message",
    reason: "Reason", from: "From", to: "To", gapPoints: "Points",
    connected: "connected", connecting: "connecting", reconnecting: "reconnecting", down: "down",
    uplinkUp: "connected to the aggregator", uplinkDown: "not connected to the aggregator", draining: "sending the backlog beside live data",
    empty: "empty", unknown: "unknown", waiting: "waiting for the aggregator", stalled: "stalled",
    perSecond: "samples/s", shown: "showing {n} of {m} points", filter: "filter by point, name, equipment…",
    none: "none", wholeSite: "whole site", outOfService: "out of service",
    source_unavailable: "source unavailable", buffer_full: "buffer full", disk_full: "disk full",
    buffer_corrupt: "buffer damaged", buffer_unwritable: "buffer unwritable", agent_stopped: "agent stopped",
  },
};

const lang = texts[document.documentElement.lang] ? document.documentElement.lang : "zh";
const t = (key) => (texts[lang][key] !== undefined ? texts[lang][key] : key);
const locale = lang === "zh" ? "zh-CN" : "en-GB";
let drainStart = 0;
let query = "";

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  const opts = sameDay ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
    : { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  return d.toLocaleString(locale, opts);
}

function duration(seconds) {
  if (!seconds || seconds <= 0) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

function count(v) {
  if (v >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return String(Math.round(v));
}

function bytes(v) {
  if (v >= 2 ** 30) return (v / 2 ** 30).toFixed(1) + " GiB";
  if (v >= 2 ** 20) return (v / 2 ** 20).toFixed(1) + " MiB";
  if (v >= 2 ** 10) return (v / 2 ** 10).toFixed(1) + " KiB";
  return v + " B";
}

function valueText(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
  return String(v);
}

function renderHeader(st) {
  const site = st.site.name ? `${st.site.name} (${st.site.id})` : st.site.id;
  $("site").textContent = st.site.park ? `${site} · ${st.site.park}` : site;
  $("updated").textContent = when(st.now);
  $("stale").hidden = true;
  const up = $("uplink");
  up.textContent = st.uplink.connected ? t("uplinkUp") : t("uplinkDown");
  up.className = "badge " + (st.uplink.connected ? "good" : "bad");
  $("aggregator").textContent = (st.uplink.aggregator || st.uplink.address) +
    (st.uplink.aggregator && st.uplink.preferred && st.uplink.aggregator !== st.uplink.preferred ? " ≠ " + st.uplink.preferred : "") +
    (st.uplink.draining ? " · " + t("draining") : "");
}

function renderBacklog(st) {
  const b = st.backlog;
  if (b.batches === 0) drainStart = 0;
  drainStart = Math.max(drainStart, b.samples);
  const done = drainStart > 0 ? (drainStart - b.samples) / drainStart : 1;
  $("drain-bar").style.width = (done * 100).toFixed(0) + "%";
  $("bl-samples").textContent = b.batches === 0 ? t("empty") : `~${count(b.samples)} (${b.batches} ${t("batches")})`;
  $("bl-size").textContent = bytes(b.bytes);
  $("bl-oldest").textContent = duration(b.oldest_age_seconds);
  $("bl-rate").textContent = `${count(b.rate_per_second)} ${t("perSecond")}`;
  let eta = duration(b.eta_seconds);
  if (b.batches === 0) eta = t("empty");
  else if (!st.uplink.connected) eta = `${t("unknown")} (${t("waiting")})`;
  else if (b.rate_per_second === 0) eta = `${t("unknown")} (${t("stalled")})`;
  $("bl-eta").textContent = eta;
  $("bl-progress").textContent = (done * 100).toFixed(0) + "%";
}

function renderSources(st) {
  fill($("source-rows"), st.sources.map((s) => {
    const state = el("td", t(s.state), "badge " + (s.state === "connected" ? "good" : s.state === "down" ? "bad" : "warn"));
    state.dataset.state = s.state;
    const err = s.last_error ? `${when(s.last_error.time)} ${s.last_error.message}${s.last_error.error ? ": " + s.last_error.error : ""}` : "";
    const tr = row([s.name, s.endpoint, state, when(s.since), when(s.last_data), err]);
    tr.dataset.source = s.name;
    return tr;
  }));
}

function renderPoints(st) {
  const rows = [];
  let shown = 0, matched = 0;
  for (const s of st.sources) {
    matched += s.points_matched;
    for (const p of s.points) {
      shown++;
      const value = el("td", valueText(p.value) + (p.unit && p.value !== null ? " " + p.unit : ""), "value");
      const good = p.status === 0 || p.status === undefined;
      const quality = el("td", p.quality || "-", "quality " + (p.quality ? (good ? "good" : (p.status >>> 30) === 1 ? "warn" : "bad") : ""));
      const hazard = p.hazard_name ? `${p.hazard_name} (${p.hazard_source})` : (p.hazard_source || "");
      const name = p.out_of_service ? `${p.name || ""} [${t("outOfService")}]` : (p.name || "");
      const tr = row([s.name, el("td", p.id, "id"), el("td", name, "name"), value, quality, when(p.source_time), when(p.received), hazard, el("td", p.description || "", "description")]);
      tr.dataset.point = p.id;
      rows.push(tr);
    }
  }
  fill($("point-rows"), rows);
  $("point-count").textContent = t("shown").replace("{n}", shown).replace("{m}", matched);
}

function renderErrors(st) {
  fill($("error-rows"), (st.errors || []).map((e) => {
    const msg = e.message + (e.error ? ": " + e.error : "") + (e.detail ? " (" + e.detail + ")" : "") + (e.count > 1 ? ` ×${e.count}` : "");
    return row([when(e.time), el("td", e.level, e.level === "ERROR" ? "bad" : "warn"), e.source || e.component || "", msg]);
  }));
  if (!st.errors || st.errors.length === 0) fill($("error-rows"), [row([t("none"), "", "", ""])]);
}

function renderGaps(st) {
  fill($("gap-rows"), (st.gaps || []).map((g) => row([t(g.reason), when(g.from), when(g.to), count(g.samples), g.points > 0 ? g.points : t("wholeSite")])));
  if (!st.gaps || st.gaps.length === 0) fill($("gap-rows"), [row([t("none"), "", "", "", ""])]);
}

async function poll() {
  try {
    const resp = await fetch("/api/status?q=" + encodeURIComponent(query), { cache: "no-store" });
    if (!resp.ok) throw new Error(resp.status);
    const st = await resp.json();
    renderHeader(st);
    renderBacklog(st);
    renderSources(st);
    renderPoints(st);
    renderErrors(st);
    renderGaps(st);
    document.body.dataset.loaded = "true";
  } catch (e) {
    $("stale").hidden = false;
  }
  setTimeout(poll, 2000);
}

function start() {
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  document.title = t("title");
  $("lang-" + lang).className = "current";
  const filter = $("filter");
  filter.placeholder = t("filter");
  let timer = 0;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { query = filter.value.trim(); }, 300);
  });
  poll();
}

document.addEventListener("DOMContentLoaded", start);
