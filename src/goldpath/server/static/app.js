// goldpath web page: login, threads, and a live view of each run over one WebSocket.
// Plain JS, no build step. Server data is only ever written with textContent.
(() => {
  "use strict";

  const KEYS = { token: "goldpath.token", user: "goldpath.user",
                 pos: "goldpath.stream", thread: "goldpath.thread" };
  const MAX_FRAME_BYTES = 64 * 1024; // PROTOCOL.md: larger frames close the socket (1009)
  const BACKOFF_MS = { first: 250, max: 8000 };
  const EVENTS_PAGE = 1000; // GET /runs/{id}/events gives at most this many at once

  const $ = (sel, root = document) => root.querySelector(sel);
  const byTestId = (id, root = document) => $(`[data-testid="${id}"]`, root);

  const ui = {
    loginView: $("#login-view"), chatView: $("#chat-view"),
    loginForm: byTestId("login-form"), loginError: byTestId("login-error"),
    username: byTestId("login-username"), password: byTestId("login-password"),
    register: byTestId("register-button"), logout: byTestId("logout-button"),
    whoami: byTestId("current-user"), conn: byTestId("connection-status"),
    threads: byTestId("thread-list"), newChat: byTestId("new-chat"),
    conversation: byTestId("conversation"), chatForm: byTestId("chat-form"),
    input: byTestId("chat-input"), send: byTestId("send-button"),
    cancel: byTestId("cancel-button"), chatError: byTestId("chat-error"),
    drawer: byTestId("drawer"), drawerButton: byTestId("drawer-button"),
    overlay: byTestId("drawer-overlay"), pane: $(".conversation-pane"),
    announcer: byTestId("announcer"),
  };

  // Everything mutable lives here, so the flow of state is easy to follow.
  const state = {
    ws: null,            // the current socket; frames from older sockets are ignored
    live: false,         // true once the stream is delivering (after ping/resumed/resync)
    attempt: 0,          // reconnect attempts since the last good `ready`
    timer: null,         // pending reconnect
    threadId: sessionStorage.getItem(KEYS.thread),
    runs: new Map(),     // run_id -> view of that run in the open thread
    running: new Set(),  // run_ids started and not yet completed
    pending: null,       // events of the open thread held while it loads over HTTP
    stored: new Set(),   // run_ids whose answer came with the thread over HTTP
    answering: null,     // the approval card whose `approve` frame may still get an error
  };

  // ---------- small helpers ----------

  const store = {
    get: (k) => sessionStorage.getItem(k),
    set: (k, v) => (v == null ? sessionStorage.removeItem(k) : sessionStorage.setItem(k, v)),
  };

  function loadPos() {
    try { return JSON.parse(store.get(KEYS.pos) || "null"); } catch { return null; }
  }
  function savePos(epoch, offset) { store.set(KEYS.pos, JSON.stringify({ epoch, offset })); }

  function show(el, visible) { el.hidden = !visible; }
  function setError(el, text) { el.textContent = text || ""; show(el, Boolean(text)); }
  function clone(id) { return document.getElementById(id).content.firstElementChild.cloneNode(true); }
  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }
  function pretty(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2) ?? String(value);
  }
  function duration(ms) {
    if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  // Keep the view pinned to the bottom only if the reader was already there.
  function scrollToEnd(force = false) {
    const c = ui.conversation;
    if (force || c.scrollHeight - c.scrollTop - c.clientHeight < 80) c.scrollTop = c.scrollHeight;
  }

  // ---------- Markdown ----------

  // A small Markdown renderer for answers: paragraphs, headings, emphasis, inline code,
  // fenced code blocks, lists, rules and http(s) links. It builds DOM nodes and writes text
  // with text nodes only, so model text is never parsed as HTML: `<script>`, `onerror=`
  // and `javascript:` links stay visible text.
  const MD = {
    fence: /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/,
    heading: /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/,
    rule: /^ {0,3}([-*_])(\s*\1){2,}\s*$/,
    item: /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/,
    blank: /^\s*$/,
    // code span | link | strong | emphasis (`_` only between non-word characters)
    inline: /`([^`]+)`|\[([^\]\n]+)\]\(\s*((?:[^\s()]|\([^\s()]*\))+)\s*\)|\*\*(\S(?:.*?\S)?)\*\*|(?<!\w)__(\S(?:.*?\S)?)__(?!\w)|\*([^\s*](?:.*?[^\s*])?)\*|(?<!\w)_([^\s_](?:.*?[^\s_])?)_(?!\w)/g,
  };

  function renderMarkdown(text) {
    const out = document.createDocumentFragment();
    const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    const startsBlock = (line) => MD.blank.test(line) || MD.fence.test(line) ||
      MD.heading.test(line) || MD.rule.test(line) || MD.item.test(line);
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (MD.blank.test(line)) {
        i += 1;
      } else if ((m = MD.fence.exec(line))) {
        // An unclosed fence runs to the end, as it does while an answer is streaming.
        const body = [];
        for (i += 1; i < lines.length; i += 1) {
          const close = MD.fence.exec(lines[i]);
          if (close && close[1][0] === m[1][0] && close[1].length >= m[1].length && !close[2]) break;
          body.push(lines[i]);
        }
        i += 1;
        const code = el("code", { textContent: body.join("\n") });
        if (m[2]) code.dataset.lang = m[2];
        out.append(el("pre", {}, code));
      } else if ((m = MD.heading.exec(line))) {
        out.append(inlineInto(el(`h${Math.min(m[1].length + 2, 6)}`), m[2]));
        i += 1;
      } else if (MD.rule.test(line)) {
        out.append(el("hr"));
        i += 1;
      } else if ((m = MD.item.exec(line))) {
        const ordered = /\d/.test(m[1]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[1], 10) !== 1) list.start = parseInt(m[1], 10);
        while (i < lines.length && (m = MD.item.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
          const item = [m[2]];
          // Indented lines that start no block continue the item.
          for (i += 1; i < lines.length && /^\s+\S/.test(lines[i]) && !startsBlock(lines[i]); i += 1) {
            item.push(lines[i].trim());
          }
          list.append(inlineInto(el("li"), item.join("\n")));
        }
        out.append(list);
      } else {
        const para = [];
        for (; i < lines.length && (para.length === 0 || !startsBlock(lines[i])); i += 1) {
          para.push(lines[i]);
        }
        out.append(inlineInto(el("p"), para.join("\n")));
      }
    }
    return out;
  }

  function inlineInto(parent, text) {
    let last = 0;
    for (const m of text.matchAll(MD.inline)) {
      parent.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] !== undefined) parent.append(el("code", { textContent: m[1] }));
      else if (m[2] !== undefined) parent.append(link(m[2], m[3]) ?? m[0]);
      else if (m[4] !== undefined || m[5] !== undefined) {
        parent.append(inlineInto(el("strong"), m[4] ?? m[5]));
      } else parent.append(inlineInto(el("em"), m[6] ?? m[7]));
    }
    parent.append(text.slice(last));
    return parent;
  }

  // Only absolute http(s) URLs become links; anything else (javascript:, data:, relative)
  // is left as the text it was.
  function link(text, href) {
    let url;
    try { url = new URL(href); } catch { return null; }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return el("a", { href: url.href, textContent: text, target: "_blank", rel: "noopener noreferrer" });
  }

  // ---------- HTTP ----------

  // Returns {ok, status, data, retryAfter}; a 401 on an authenticated call ends the session.
  async function api(method, path, body, { auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = `Bearer ${store.get(KEYS.token)}`;
    let res;
    try {
      res = await fetch(path, { method, headers,
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      return { ok: false, status: 0, data: null, message: "The server cannot be reached." };
    }
    const data = await res.json().catch(() => null);
    const result = { ok: res.ok, status: res.status, data,
      retryAfter: res.headers.get("Retry-After"),
      message: data?.error?.message || `${res.status} ${res.statusText}` };
    if (auth && res.status === 401) logout("Your session has ended. Please log in again.");
    return result;
  }

  // ---------- login ----------

  async function submitCredentials(register) {
    setError(ui.loginError, "");
    const creds = { username: ui.username.value.trim(), password: ui.password.value };
    if (register) {
      const r = await api("POST", "/auth/register", creds, { auth: false });
      if (!r.ok) return setError(ui.loginError, describeFailure(r));
    }
    const r = await api("POST", "/auth/login", creds, { auth: false });
    if (!r.ok) return setError(ui.loginError, describeFailure(r));
    // A new session starts from the stream's current position, not a previous user's one.
    store.set(KEYS.pos, null);
    store.set(KEYS.thread, null);
    store.set(KEYS.token, r.data.access_token);
    store.set(KEYS.user, creds.username);
    ui.password.value = "";
    enterApp();
  }

  function describeFailure(r) {
    // Say when to retry, unless the server's message already does.
    if (r.status === 429 && r.retryAfter && !/\d+ ?s\b/.test(r.message)) {
      return `${r.message} (try again in ${r.retryAfter} s)`;
    }
    return r.message;
  }

  function enterApp() {
    state.threadId = store.get(KEYS.thread);
    show(ui.loginView, false); show(ui.chatView, true);
    show(ui.logout, true); show(ui.conn, true); show(ui.whoami, true); show(ui.drawerButton, true);
    ui.whoami.textContent = store.get(KEYS.user) || "";
    refreshThreads();
    loadAgents();
    if (state.threadId) openThread(state.threadId); else clearConversation();
    connect();
  }

  function logout(message) {
    const ws = state.ws;
    state.ws = null; // detach first so its close does not schedule a reconnect
    if (ws) ws.close(1000, "logout");
    clearTimeout(state.timer);
    for (const k of Object.values(KEYS)) store.set(k, null);
    state.threadId = null; state.running.clear();
    setConn("offline"); setComposer(false);
    show(ui.chatView, false); show(ui.loginView, true);
    show(ui.logout, false); show(ui.conn, false); show(ui.whoami, false);
    show(ui.drawerButton, false); setDrawer(false);
    setError(ui.loginError, message || "");
    ui.username.focus();
  }

  // ---------- threads and messages ----------

  async function refreshThreads() {
    const r = await api("GET", "/threads");
    if (!r.ok) return;
    // A refresh replaces the items: the one that had the keyboard's focus keeps it.
    const focused = ui.threads.contains(document.activeElement)
      ? document.activeElement.dataset.threadId : null;
    ui.threads.replaceChildren(...r.data.map(threadItem));
    if (focused) ui.threads.querySelector(`button[data-thread-id="${CSS.escape(focused)}"]`)?.focus();
  }

  function threadItem(thread) {
    const li = clone("tpl-thread");
    const button = $("button", li);
    button.dataset.threadId = thread.thread_id;
    $(".thread-title", li).textContent = thread.title || "Untitled";
    const time = $(".thread-time", li);
    time.dateTime = thread.updated_at;
    time.textContent = new Date(thread.updated_at).toLocaleString();
    if (thread.thread_id === state.threadId) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => openThread(thread.thread_id));
    return li;
  }

  function markCurrentThread() {
    for (const b of ui.threads.querySelectorAll("button[data-thread-id]")) {
      if (b.dataset.threadId === state.threadId) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  function setThread(threadId) {
    state.threadId = threadId;
    store.set(KEYS.thread, threadId);
    markCurrentThread();
  }

  function clearConversation() {
    state.runs.clear();
    state.stored = new Set();
    const empty = el("p", { className: "empty muted",
      textContent: "Ask something to start a conversation." });
    empty.dataset.testid = "empty-state";
    ui.conversation.replaceChildren(empty);
    updateCancel();
  }

  // Events of this thread that arrive while it loads are held, then drawn after its
  // messages, so a live run is neither wiped by the load nor drawn above its question.
  async function openThread(threadId) {
    setThread(threadId);
    const held = (state.pending = []);
    const r = await api("GET", `/threads/${encodeURIComponent(threadId)}`);
    const superseded = () => state.threadId !== threadId || state.pending !== held;
    if (superseded()) return;
    const runs = r.ok ? await storedRuns(r.data.messages) : new Map();
    if (superseded()) return;
    state.pending = null;
    if (!r.ok) { setThread(null); clearConversation(); return; }
    clearConversation();
    drawHistory(r.data.messages, runs);
    held.forEach(drawEvent);
    updateCancel();
    scrollToEnd(true);
  }

  // ---------- past runs, drawn from their stored events ----------

  // The stored events of each run the messages name (GET /runs/{id}/events, every page),
  // fetched together; a run without any (stored before events were) is left out.
  async function storedRuns(messages) {
    const runIds = [...new Set(messages.map((m) => m.run_id).filter(Boolean))];
    const found = await Promise.all(runIds.map(async (runId) => [runId, await runEvents(runId)]));
    return new Map(found.filter(([, events]) => events.length));
  }

  async function runEvents(runId) {
    const events = [];
    for (;;) {
      const after = events.length ? events[events.length - 1].offset : 0;
      const r = await api("GET",
        `/runs/${encodeURIComponent(runId)}/events?after=${after}&limit=${EVENTS_PAGE}`);
      if (!r.ok) return [];
      events.push(...r.data);
      if (r.data.length < EVENTS_PAGE) return events;
    }
  }

  // Messages in order; a run with stored events is drawn by the renderers of live events,
  // so a past run reads as it did live (its question, steps, answer and status), and a run
  // still in flight goes on from its last stored event as live and replayed events come.
  function drawHistory(messages, runs) {
    state.stored = new Set(messages.filter((m) => m.role === "assistant" && m.run_id &&
      !runs.has(m.run_id)).map((m) => m.run_id));
    for (const message of messages) {
      const events = runs.get(message.run_id);
      if (!events) {
        ui.conversation.querySelector('[data-testid="empty-state"]')?.remove();
        ui.conversation.append(messageView(message));
      } else if (!state.runs.has(message.run_id)) {
        events.forEach(drawEvent);
        // A run still waiting for approval can be cancelled, as a live one can.
        if (state.runs.get(message.run_id)?.root.dataset.status === "waiting") {
          state.running.add(message.run_id);
        }
      }
    }
  }

  function messageView(message) {
    const article = clone("tpl-message");
    article.dataset.role = message.role;
    article.classList.add(`message-${message.role}`);
    if (message.run_id) article.dataset.runId = message.run_id;
    const body = $(".message-text", article);
    // The user's words are shown as typed; answers are Markdown.
    if (message.role === "assistant") body.replaceChildren(renderMarkdown(message.text));
    else body.textContent = message.text;
    return article;
  }

  // ---------- the live view of a run ----------

  // A run's view is made on its first event; `complete` is false when that first event was
  // not `agent_started` (we joined mid-run after a resync), so the answer may be partial.
  function runView(event) {
    let view = state.runs.get(event.run_id);
    if (view) return view;
    const root = clone("tpl-run");
    root.dataset.runId = event.run_id;
    ui.conversation.querySelector('[data-testid="empty-state"]')?.remove();
    ui.conversation.append(root);
    view = { root, steps: byTestId("steps", root), answer: byTestId("answer", root),
             tools: new Map(), approvals: new Map(), deltas: 0, text: "", frame: 0, last: 0,
             complete: event.type === "agent_started" };
    state.runs.set(event.run_id, view);
    return view;
  }

  function addStep(view, type, text, extraClass) {
    const li = el("li", { className: `step ${extraClass || ""}`, textContent: text });
    li.dataset.testid = "step";
    li.dataset.type = type;
    view.steps.append(li);
    return li;
  }

  function toolView(view, data) {
    let li = view.tools.get(data.call_id);
    if (li) return li;
    li = clone("tpl-tool");
    li.dataset.callId = data.call_id;
    byTestId("tool-name", li).textContent = data.tool;
    view.tools.set(data.call_id, li);
    view.steps.append(li);
    return li;
  }

  // One handler per event type of PROTOCOL.md.
  const render = {
    agent_started(view, data, event) {
      // The question may already be on screen, loaded with the thread.
      const shown = `[data-role="user"][data-run-id="${CSS.escape(event.run_id)}"]`;
      if (!ui.conversation.querySelector(shown)) {
        view.root.prepend(messageView({ role: "user", text: data.message, run_id: event.run_id }));
      }
      addStep(view, "agent_started", "Started", "step-started");
    },
    agent_thinking(view, data) {
      addStep(view, "agent_thinking", data.thought, "step-thinking");
    },
    tool_executing(view, data) {
      byTestId("tool-args", toolView(view, data)).textContent = pretty(data.args);
    },
    tool_completed(view, data) {
      const li = toolView(view, data);
      li.dataset.state = data.ok ? "ok" : "error";
      byTestId("tool-state", li).textContent = data.ok ? "done" : "failed";
      byTestId("tool-duration", li).textContent = duration(data.duration_ms);
      $(".tool-result-label", li).textContent = data.ok ? "Result" : "Error";
      byTestId("tool-result", li).textContent = data.ok ? pretty(data.result) : data.error;
    },
    approval_requested(view, data, event) {
      approvalCard(view, data, event.run_id);
      setWaiting(view);
    },
    approval_resolved(view, data) {
      const card = view.approvals.get(data.call_id);
      if (card) resolveCard(card, data.by === "timeout" ? "timeout" : data.decision);
      setWaiting(view);
    },
    message_delta(view, data) {
      view.text += data.delta;
      view.deltas += 1;
      view.answer.dataset.deltas = String(view.deltas);
      // Redrawn at most once a frame, however fast the deltas come.
      if (!view.frame) view.frame = requestAnimationFrame(() => drawAnswer(view));
    },
    agent_completed(view, data) {
      // Only a view that missed the start takes the stored text; a complete one already has
      // every delta, exactly once, and showing them as they came is the point.
      if (!view.complete && data.result) view.text = data.result.text;
      drawAnswer(view);
      // A call still waiting when its run ends (cancelled, say) was never answered.
      for (const card of view.approvals.values()) if (!card.done) resolveCard(card, "unanswered");
      const label = STATUS[data.status] || STATUS.unknown;
      const badge = byTestId("status-badge", view.root);
      badge.textContent = label.badge;
      badge.dataset.status = data.status;
      show(badge, true);
      setError(byTestId("run-error", view.root), data.error);
      addStep(view, "agent_completed", `${label.step} ${duration(data.duration_ms)}`,
        "step-completed");
      view.root.dataset.status = data.status;
    },
  };

  // What a run's end reads as; `data-status` keeps the wire value for styles and tests.
  const STATUS = {
    ok: { badge: "Completed", step: "Completed in" },
    error: { badge: "Failed", step: "Failed after" },
    cancelled: { badge: "Cancelled", step: "Cancelled after" },
    timeout: { badge: "Timed out", step: "Timed out after" },
    unknown: { badge: "Ended", step: "Ended after" },
  };

  // ---------- approval cards ----------

  // A run that waits for a person (PROTOCOL.md "Approvals") shows a card for the call: the
  // tool, its args as editable JSON, Approve and Reject. The answer is an `approve` frame
  // with no reply on success; `approval_resolved`, from this tab's answer or any other's,
  // turns the card into a one-line record.
  const RECORD = {
    approve: (tool) => `Approved: ${tool}`,
    reject: (tool) => `Rejected: ${tool}`,
    timeout: (tool) => `Timed out: ${tool} was not approved in time`,
    unanswered: (tool) => `Not answered: ${tool} (the run ended)`,
  };
  let cardCount = 0; // makes the ids that tie each card's fields to their messages

  function approvalCard(view, data, runId) {
    if (view.approvals.has(data.call_id)) return;
    const li = clone("tpl-approval");
    const text = JSON.stringify(data.args ?? {}, null, 2);
    const card = {
      li, runId, callId: data.call_id, tool: data.tool, original: text, done: false,
      args: byTestId("approval-args", li), reason: byTestId("approval-reason", li),
      error: byTestId("approval-error", li), note: byTestId("approval-note", li),
      approve: byTestId("approve-button", li), reject: byTestId("reject-button", li),
      record: byTestId("approval-record", li),
    };
    li.dataset.callId = data.call_id;
    $(".approval-card", li).setAttribute("aria-label", `Approval of ${data.tool}`);
    byTestId("approval-tool", li).textContent = data.tool;
    card.args.value = text;
    card.args.rows = Math.min(12, text.split("\n").length + 1);
    card.error.id = `approval-error-${(cardCount += 1)}`;
    card.args.setAttribute("aria-describedby", card.error.id);
    card.args.addEventListener("input", () => markArgs(card, ""));
    card.approve.addEventListener("click", () => answerCard(card, "approve"));
    card.reject.addEventListener("click", () => answerCard(card, "reject"));
    view.approvals.set(data.call_id, card);
    view.steps.append(li);
    // Once the events drawn with this one are done (a thread's history draws many at
    // once): a card still waiting is announced and takes the keyboard, unless the reader
    // is busy elsewhere (typing a message, say); from the record of the call answered just
    // before it, it does. One answered meanwhile stays quiet.
    queueMicrotask(() => {
      if (card.done) return;
      card.shown = true;
      announce(`${data.tool} is waiting for your approval.`);
      const active = document.activeElement;
      if (!active || active === document.body || (active === ui.input && !ui.input.value) ||
          active.closest('[data-testid="approval"][data-state="resolved"]')) {
        card.approve.focus();
      }
    });
  }

  // The run's badge says it waits while any of its cards does.
  function setWaiting(view) {
    const waiting = [...view.approvals.values()].some((card) => !card.done);
    const badge = byTestId("status-badge", view.root);
    if (waiting) {
      badge.textContent = "Waiting for your approval";
      badge.dataset.status = "waiting";
      view.root.dataset.status = "waiting";
    } else if (view.root.dataset.status === "waiting") {
      delete badge.dataset.status;
      delete view.root.dataset.status;
    }
    show(badge, waiting || Boolean(badge.dataset.status));
  }

  function markArgs(card, message) {
    setError(card.error, message);
    if (message) card.args.setAttribute("aria-invalid", "true");
    else card.args.removeAttribute("aria-invalid");
  }

  // The edited args: `undefined` when they are the ones the model gave, `null` (and a
  // message under them) when they are not a JSON object.
  function editedArgs(card) {
    const text = card.args.value;
    if (text.trim() === card.original.trim()) return undefined;
    let args;
    try {
      args = JSON.parse(text);
    } catch (e) {
      markArgs(card, `The arguments are not valid JSON (${e.message}). Fix them, or reject the call.`);
      return null;
    }
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
      markArgs(card, 'The arguments must be a JSON object, in braces: {"name": value, ...}.');
      return null;
    }
    return JSON.stringify(args) === JSON.stringify(JSON.parse(card.original)) ? undefined : args;
  }

  function answerCard(card, decision) {
    if (card.done || card.busy) return;
    setError(card.error, "");
    // Its `client_msg_id` comes back as the `ref` of an error frame refusing it.
    card.ref = `approve:${card.runId}:${card.callId}`;
    const frame = {
      type: "approve", run_id: card.runId, call_id: card.callId, decision, client_msg_id: card.ref,
    };
    if (decision === "approve") {
      const args = editedArgs(card);
      if (args === null) return card.args.focus();
      if (args !== undefined) frame.args = args;
    } else {
      const reason = card.reason.value.trim();
      if (reason) frame.reason = reason;
    }
    if (!state.ws || !state.live) {
      return setError(card.error, "Not connected: answer again once the page is live.");
    }
    if (!sendOn(state.ws, frame)) {
      return setError(card.error, "That answer is too long to send: shorten the arguments or the reason.");
    }
    state.answering = card;
    card.note.textContent = decision === "approve" ? "Approving…" : "Rejecting…";
    show(card.note, true);
    setCardBusy(card, true);
  }

  function setCardBusy(card, busy) {
    card.busy = busy;
    const hadFocus = card.li.contains(document.activeElement);
    // The focus would be lost with the disabled button: it waits on the note instead.
    if (busy && hadFocus) {
      card.note.tabIndex = -1;
      card.note.focus();
    }
    for (const control of [card.args, card.reason, card.approve, card.reject]) control.disabled = busy;
    card.li.dataset.state = busy ? "sending" : "waiting";
    if (!busy) {
      show(card.note, false);
      if (hadFocus) card.approve.focus();
    }
  }

  // An error frame refusing the answer out carries its `client_msg_id` as `ref`.
  function onAnswerError(card, frame) {
    state.answering = null;
    if (card.done) return; // resolved already, by whoever answered first
    if (frame.code === "conflict") {
      // Answered elsewhere (another tab) or the run moved on: its events will say how.
      card.note.textContent = "This call was already answered elsewhere.";
      return;
    }
    setCardBusy(card, false);
    setError(card.error, frame.message);
  }

  function resolveCard(card, outcome) {
    if (card.done) return;
    card.done = true;
    card.busy = false;
    const hadFocus = card.li.contains(document.activeElement);
    card.record.textContent = RECORD[outcome](card.tool);
    card.li.dataset.state = "resolved";
    card.li.dataset.outcome = outcome;
    $(".approval-card", card.li).remove();
    show(card.record, true);
    if (hadFocus) card.record.focus(); else if (card.shown) announce(card.record.textContent);
  }

  function announce(text) {
    ui.announcer.textContent = text;
  }

  function drawAnswer(view) {
    cancelAnimationFrame(view.frame);
    view.frame = 0;
    view.answer.replaceChildren(renderMarkdown(view.text));
    scrollToEnd();
  }

  function applyEvent(event) {
    if (event.type === "agent_completed") state.running.delete(event.run_id);
    else state.running.add(event.run_id);
    if (event.type === "agent_started" || event.type === "agent_completed") scheduleThreadRefresh();
    // Runs of other threads (another tab's chats) only refresh the list.
    if (event.thread_id === state.threadId) {
      if (state.pending) state.pending.push(event); else drawEvent(event);
    }
    updateCancel();
  }

  function drawEvent(event) {
    // A run whose answer came over HTTP is already on screen as messages.
    if (state.stored.has(event.run_id) || !render[event.type]) return;
    const view = runView(event);
    // Stored history, the resume's replay and live events overlap: each offset once.
    if (event.offset <= view.last) return;
    view.last = event.offset;
    render[event.type](view, event.data || {}, event);
    scrollToEnd();
  }

  // Threads are re-sorted by the server when runs start and end; refresh once per burst.
  let refreshPending = null;
  function scheduleThreadRefresh() {
    clearTimeout(refreshPending);
    refreshPending = setTimeout(refreshThreads, 150);
  }

  function currentRunningRun() {
    for (const runId of state.running) if (state.runs.has(runId)) return runId;
    return null;
  }
  function updateCancel() { show(ui.cancel, Boolean(currentRunningRun()) && state.live); }

  // ---------- the WebSocket ----------

  function setConn(name) {
    ui.conn.dataset.state = name;
    $(".conn-label", ui.conn).textContent = name;
  }

  function setComposer(enabled) {
    ui.input.disabled = !enabled;
    ui.send.disabled = !enabled;
  }

  function connect() {
    clearTimeout(state.timer);
    setConn(state.attempt ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    state.ws = ws;
    state.live = false;
    // Browsers cannot set headers on the upgrade, so the token goes in the first frame.
    ws.addEventListener("open", () => sendOn(ws, { type: "auth", token: store.get(KEYS.token) }));
    ws.addEventListener("message", (e) => { if (ws === state.ws) onFrame(ws, e.data); });
    ws.addEventListener("close", (e) => { if (ws === state.ws) onClose(e); });
  }

  function sendOn(ws, frame) {
    const text = JSON.stringify(frame);
    if (new TextEncoder().encode(text).length > MAX_FRAME_BYTES) return false;
    ws.send(text);
    return true;
  }

  function goLive() {
    state.live = true;
    setConn("live");
    setComposer(true);
    updateCancel();
  }

  function onFrame(ws, raw) {
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    if (typeof frame.offset === "number" && frame.run_id) return onEvent(ws, frame);
    switch (frame.type) {
      case "ready": return onReady(ws, frame);
      case "resumed": return goLive(); // the replay follows as ordinary events
      case "resync": return onResync(frame);
      case "run_accepted": return onRunAccepted(frame);
      case "error": return onErrorFrame(frame);
      default: return undefined; // pong and anything newer: nothing to do
    }
  }

  function onErrorFrame(frame) {
    if (state.answering && frame.ref === state.answering.ref) {
      return onAnswerError(state.answering, frame);
    }
    return setError(ui.chatError, frame.message);
  }

  function onReady(ws, frame) {
    state.attempt = 0;
    const pos = loadPos();
    if (pos) {
      sendOn(ws, { type: "resume", epoch: pos.epoch, offset: pos.offset });
    } else {
      // A fresh session: everything after `ready`'s position is live for us.
      savePos(frame.stream.epoch, frame.stream.offset);
      sendOn(ws, { type: "ping" });
      goLive();
    }
  }

  // The server no longer holds what we missed: reload over HTTP and start from its position.
  function onResync(frame) {
    savePos(frame.epoch, frame.offset);
    state.running.clear();
    refreshThreads();
    if (state.threadId) openThread(state.threadId); else clearConversation();
    goLive();
  }

  function onEvent(ws, event) {
    const pos = loadPos();
    if (pos && event.offset <= pos.offset) return; // already seen: replay overlap
    if (pos && event.offset > pos.offset + 1) {
      // A gap should never happen on one connection; reconnecting resumes from what we have.
      ws.close(4000, "gap");
      return;
    }
    savePos(pos ? pos.epoch : null, event.offset);
    applyEvent(event);
  }

  function onRunAccepted(frame) {
    setError(ui.chatError, "");
    state.running.add(frame.run_id);
    if (!state.threadId) {
      // A new chat made a thread: show it in the list at once.
      setThread(frame.thread_id);
      clearConversation();
      refreshThreads();
    }
  }

  function onClose(event) {
    state.ws = null;
    state.live = false;
    setComposer(false);
    updateCancel();
    // An answer lost with the socket can be given again; one that arrived is replayed
    // (`approval_resolved`) when the stream resumes, and a second one is only a conflict.
    state.answering = null;
    for (const view of state.runs.values()) {
      for (const card of view.approvals.values()) if (card.busy && !card.done) setCardBusy(card, false);
    }
    if (event.code === 4401) return logout("Your session is no longer valid. Please log in again.");
    // Exponential backoff with jitter, so many tabs do not reconnect in lockstep.
    const base = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** state.attempt);
    state.attempt += 1;
    setConn("reconnecting");
    state.timer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }

  // ---------- the composer ----------

  function sendChat() {
    const text = ui.input.value.trim();
    if (!text || !state.ws || !state.live) return;
    const frame = { type: "chat", message: text, client_msg_id: crypto.randomUUID() };
    if (state.threadId) frame.thread_id = state.threadId;
    const agent = chosenAgent();
    if (agent) frame.agent = agent;
    if (!sendOn(state.ws, frame)) return setError(ui.chatError, "That message is too long.");
    setError(ui.chatError, "");
    ui.input.value = "";
  }

  // ---------- the agent picker ----------

  // GET /agents lists the agents a chat may name, the default first. With one agent there
  // is nothing to choose and the picker stays hidden; chats then name no agent.
  const agentPicker = { label: byTestId("agent-picker-label"), select: byTestId("agent-picker") };

  async function loadAgents() {
    const r = await api("GET", "/agents");
    const agents = r.ok && Array.isArray(r.data) ? r.data : [];
    agentPicker.select.replaceChildren(...agents.map((agent) =>
      el("option", { value: agent.name, title: agent.description }, agent.name)));
    show(agentPicker.label, agents.length > 1);
  }

  function chosenAgent() {
    return agentPicker.label.hidden ? null : agentPicker.select.value || null;
  }

  // ---------- the thread drawer (narrow screens) ----------

  // On a narrow screen the thread list slides in over the conversation; the CSS media
  // query below is the same one, so the drawer exists only where the layout needs it.
  const narrow = window.matchMedia("(max-width: 720px)");

  function setDrawer(open) {
    const wasOpen = ui.chatView.classList.contains("drawer-open");
    open = open && narrow.matches;
    ui.chatView.classList.toggle("drawer-open", open);
    ui.drawerButton.setAttribute("aria-expanded", String(open));
    show(ui.overlay, open);
    ui.pane.inert = open; // keyboard and screen readers stay in the open drawer
    if (open) (ui.drawer.querySelector('[aria-current="true"]') || ui.newChat).focus();
    else if (wasOpen && ui.drawer.contains(document.activeElement)) ui.drawerButton.focus();
  }

  ui.drawerButton.addEventListener("click", () =>
    setDrawer(!ui.chatView.classList.contains("drawer-open")));
  ui.overlay.addEventListener("click", () => setDrawer(false));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && ui.chatView.classList.contains("drawer-open")) setDrawer(false);
  });
  // Choosing a thread or a new chat is done with the list: it makes way for the conversation
  // (while capturing, so the choice itself then finds the conversation usable).
  ui.drawer.addEventListener("click", (e) => {
    if (e.target.closest("button")) setDrawer(false);
  }, true);
  narrow.addEventListener("change", () => setDrawer(false));

  // ---------- wiring ----------

  ui.loginForm.addEventListener("submit", (e) => { e.preventDefault(); submitCredentials(false); });
  ui.register.addEventListener("click", () => submitCredentials(true));
  ui.logout.addEventListener("click", () => logout(""));
  ui.newChat.addEventListener("click", () => {
    state.pending = null;
    setThread(null);
    clearConversation();
    ui.input.focus();
  });
  ui.chatForm.addEventListener("submit", (e) => { e.preventDefault(); sendChat(); });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendChat(); }
  });
  ui.cancel.addEventListener("click", () => {
    const runId = currentRunningRun();
    state.answering = null; // an error after this is the cancel's
    if (runId && state.ws) sendOn(state.ws, { type: "cancel", run_id: runId });
  });
  // Back online: do not wait out the backoff.
  window.addEventListener("online", () => { if (!state.ws && store.get(KEYS.token)) connect(); });

  if (store.get(KEYS.token)) enterApp(); else logout("");
})();
