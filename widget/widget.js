/* Inviaro chat widget. Install: <script src="https://HUB/widget.js" data-inviaro-key="pk_..." async></script>
 * Plain JS, no dependencies. Renders in a Shadow DOM; the only global is window.Inviaro.
 * Optional: data-user-id + data-user-hash (HMAC-SHA256 of the user id with the channel's identity
 * secret, hex) for verified visitors, or Inviaro.identify({userId, userHash}) later. */
(function () {
  "use strict";
  if (window.Inviaro && window.Inviaro.version) return; // included twice: keep the first
  var script = document.currentScript || document.querySelector("script[data-inviaro-key]");
  var TAG = "[Inviaro]";
  var warned = false;
  function warn(msg) { if (!warned) { warned = true; console.warn(TAG + " " + msg); } }
  if (!script || !script.getAttribute("data-inviaro-key")) {
    warn("Chat widget not shown: the script tag has no data-inviaro-key attribute.");
    return;
  }
  var KEY = script.getAttribute("data-inviaro-key");
  var HUB = new URL(script.src, location.href).origin;
  var NS = "inviaro:" + KEY + ":";
  var settings = window.InviaroSettings || {};
  var identity = {
    user_id: script.getAttribute("data-user-id") || settings.userId || null,
    user_hash: script.getAttribute("data-user-hash") || settings.userHash || null
  };

  // ---- storage (the host site's localStorage; may be unavailable in sandboxed frames) ----
  function load(name, fallback) {
    try { var v = localStorage.getItem(NS + name); return v == null ? fallback : JSON.parse(v); }
    catch (e) { return fallback; }
  }
  function save(name, value) {
    try {
      if (value == null) localStorage.removeItem(NS + name);
      else localStorage.setItem(NS + name, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: the widget still works for this page view */ }
  }

  // ---- state ----
  var session = null;       // {visitor_token, conversation_id, ws_url (a 60 s ticket), title, color}
  var ws = null, wsOpen = false, attempt = 0, timer = 0, pingTimer = 0, resuming = false;
  var lastSeq = 0;          // every message up to here is shown (no gaps)
  var seqs = {};            // seq -> true, to grow lastSeq over out-of-order arrivals
  var byId = {};            // message id -> {msg, el}
  var queue = load("queue", []); // [{client_id, text, state}] not yet acknowledged
  var pending = {};         // client_id -> li element
  var readSeq = load("read", 0), unread = 0, isOpen = false, started = false, stopped = false;
  var ui = null, typingTimer = 0, myTyping = 0, lastTypingSent = 0;

  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // ---- session ----
  function startSession() {
    clearTimeout(timer);
    var body = { key: KEY };
    var token = load("token", null);
    if (token) body.visitor_token = token;
    if (identity.user_id && identity.user_hash) {
      body.user_id = String(identity.user_id);
      body.user_hash = String(identity.user_hash);
    }
    fetch(HUB + "/api/widget/sessions", {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "content-type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; },
        function () { return { status: r.status, data: {} }; });
    }).then(function (res) {
      var code = res.data && res.data.error;
      if (res.status === 201) return onSession(res.data);
      if (res.status === 403 && code === "forbidden" && token) {
        save("token", null); // the token is no longer valid here: start afresh
        return startSession();
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 429) return giveUp(res.status, code, res.data.detail);
      retryLater();
    }, function () { retryLater(); });
  }

  function giveUp(status, code, detail) {
    stopped = true;
    closeSocket();
    if (ui) { ui.host.remove(); ui = null; }
    warn("Chat widget not shown (HTTP " + status + (code ? " " + code : "") + "): " +
      (detail || "the hub refused this key") + " Key: " + KEY + ", page origin: " + location.origin + ".");
  }

  function onSession(data) {
    if (session && session.conversation_id !== data.conversation_id) resetThread();
    session = data;
    save("token", data.visitor_token);
    if (!ui) build();
    applyLook();
    applyConsent();
    connect();
  }

  function resetThread() {
    lastSeq = 0; seqs = {}; byId = {}; unread = 0; readSeq = 0; save("read", 0);
    if (ui) { ui.log.textContent = ""; pending = {}; queue.forEach(renderPending); }
    badge();
  }

  // ---- socket ----
  // session.ws_url carries a connect ticket that the hub honours for a minute only, so a
  // socket is only ever opened right after a fresh session: every reconnect goes through
  // startSession (retryLater, "online"), never straight back to an old ws_url.
  function connect() {
    if (stopped || !session) return;
    closeSocket();
    var sock;
    try { sock = new WebSocket(session.ws_url, ["inviaro.json"]); } catch (e) { return retryLater(); }
    ws = sock;
    sock.onopen = function () {
      if (ws !== sock) return;
      wsOpen = true; attempt = 0; status("");
      resuming = true; // queued messages are sent once the replay is complete
      sendFrame({ type: "resume", conversation_id: session.conversation_id, after_seq: lastSeq });
    };
    sock.onmessage = function (ev) {
      if (ws !== sock) return;
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f);
    };
    sock.onclose = function (ev) {
      if (ws !== sock) return;
      ws = null; wsOpen = false; clearInterval(pingTimer);
      if (stopped) return;
      markQueued();
      if (ev.code === 1008) { // session over (revoked, erased): a new session, a new conversation
        save("token", null); session = null; resetThread(); status("Reconnecting…");
        return startSession();
      }
      status(navigator.onLine === false ? "You are offline. Messages will be sent when you reconnect." : "Reconnecting…");
      retryLater();
    };
  }

  function closeSocket() {
    clearInterval(pingTimer);
    if (ws) { var s = ws; ws = null; wsOpen = false; try { s.close(1000); } catch (e) { /* closed */ } }
  }

  function retryLater() {
    if (stopped) return;
    clearTimeout(timer);
    var base = Math.min(30000, 500 * Math.pow(2, attempt++));
    var delay = base / 2 + Math.random() * base / 2; // exponential backoff, equal jitter
    // Re-ask the session endpoint: it tells a dead token (403) from a passing network error.
    timer = setTimeout(startSession, delay);
  }

  function sendFrame(f) {
    if (!wsOpen || !ws) return false;
    try { ws.send(JSON.stringify(f)); return true; } catch (e) { return false; }
  }

  function onFrame(f) {
    switch (f.type) {
      case "hello":
        clearInterval(pingTimer);
        pingTimer = setInterval(function () { sendFrame({ type: "ping" }); }, Math.max(5, f.heartbeat_s || 25) * 1000);
        break;
      case "message": onMessage(f.message); break;
      case "ack": onMessage(f.message); break;
      case "resumed":
        resuming = false;
        if (f.last_seq > lastSeq) lastSeq = f.last_seq;
        while (seqs[lastSeq + 1]) lastSeq++;
        flushQueue();
        if (isOpen) markRead();
        break;
      case "typing":
        if (f.author && f.author.kind !== "contact") showTyping(f.author, f.active);
        break;
      case "error":
        if (f.ref != null && pending[f.ref]) fail(f.ref, f.detail);
        break;
    }
  }

  function onMessage(m) {
    if (!m || !m.id || (session && m.conversation_id !== session.conversation_id)) return;
    if (m.client_id && pending[m.client_id]) {
      var li = pending[m.client_id];
      delete pending[m.client_id];
      dequeue(m.client_id);
      li.remove();
    }
    var known = byId[m.id];
    if (known) { known.msg.status = m.status; return; }
    var el = renderMessage(m);
    byId[m.id] = { msg: m, el: el };
    seqs[m.seq] = true;
    if (m.seq > lastSeq + 1 && !resuming) { // a gap: heal it from the hub
      resuming = true;
      sendFrame({ type: "resume", conversation_id: session.conversation_id, after_seq: lastSeq });
    }
    while (seqs[lastSeq + 1]) lastSeq++;
    if (m.direction === "out") {
      if (m.author && m.author.kind === "operator" && m.author.name) ui.agent.textContent = m.author.name;
      showTyping(m.author, false);
      if (isOpen && !document.hidden) markRead();
      else if (m.seq > readSeq) { unread++; badge(); }
    }
  }

  // ---- outgoing queue ----
  function persistQueue() {
    save("queue", queue.map(function (q) { return { client_id: q.client_id, text: q.text, option: q.option, files: q.files }; }));
  }
  function dequeue(clientId) {
    queue = queue.filter(function (q) { return q.client_id !== clientId; });
    persistQueue();
  }
  // ``option``: the value of a tapped option a flow offered (the hub picks it by value).
  function submit(text, option, files) {
    var item = { client_id: uid(), text: text };
    if (option != null) item.option = option;
    if (files) item.files = files;
    dropOptions();
    queue.push(item);
    persistQueue();
    renderPending(item);
    sendQueued(item);
    typing(false);
  }
  function sendQueued(item) {
    var li = pending[item.client_id];
    if (!wsOpen || resuming) { if (li) state(li, "queued"); return; }
    if (li) state(li, "sending");
    item.inflight = true;
    var frame = { type: "send", ref: item.client_id, text: item.text, client_id: item.client_id };
    if (item.option != null) frame.option = item.option;
    if (item.files) frame.attachments = item.files;
    sendFrame(frame);
    clearTimeout(item.timer);
    item.timer = setTimeout(function () { if (pending[item.client_id] && wsOpen) fail(item.client_id); }, 15000);
  }
  function flushQueue() { queue.forEach(function (q) { if (!q.failed && !q.inflight) sendQueued(q); }); }
  function markQueued() {
    queue.forEach(function (q) {
      q.inflight = false; clearTimeout(q.timer);
      var li = pending[q.client_id]; if (li && !q.failed) state(li, "queued");
    });
  }
  function fail(clientId, detail) {
    var item = queue.filter(function (q) { return q.client_id === clientId; })[0];
    if (item) { item.failed = true; item.inflight = false; clearTimeout(item.timer); }
    var li = pending[clientId];
    if (li) { state(li, "failed"); if (detail) li.title = detail; }
  }
  function retry(clientId) {
    var item = queue.filter(function (q) { return q.client_id === clientId; })[0];
    if (!item) return;
    item.failed = false;
    sendQueued(item); // same client_id: the hub stores it once however often it is sent
  }

  function markRead() {
    var top = 0;
    for (var id in byId) if (byId[id].msg.seq > top) top = byId[id].msg.seq;
    unread = 0; badge();
    if (isOpen && top > readSeq) {
      readSeq = top; save("read", top);
      sendFrame({ type: "read", conversation_id: session.conversation_id, seq: top });
    }
  }

  function typing(active) {
    if (!active) {
      clearTimeout(myTyping);
      if (lastTypingSent) { lastTypingSent = 0; sendFrame({ type: "typing", active: false }); }
      return;
    }
    var now = Date.now();
    if (now - lastTypingSent > 3000) { lastTypingSent = now; sendFrame({ type: "typing", active: true }); }
    clearTimeout(myTyping);
    myTyping = setTimeout(function () { typing(false); }, 4000);
  }

  // ---- UI ----
  var CSS =
    ":host{all:initial}" +
    "*{box-sizing:border-box;font:inherit;margin:0;padding:0}" +
    ".root{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;--c:#2563eb}" +
    "button{cursor:pointer;border:0;background:none;color:inherit;display:inline-flex;align-items:center;justify-content:center}" +
    "button:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;background:var(--c);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483647}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 16px);height:560px;max-height:calc(100vh - 104px);display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;z-index:2147483647}" +
    ".panel[hidden]{display:none}" +
    "header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--c);color:#fff}" +
    "header div{flex:1;min-width:0}" +
    "h2{font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}" +
    ".sub{font-size:12px;opacity:.9;min-height:1.4em}" +
    ".x{width:36px;height:36px;border-radius:6px;font-size:22px;line-height:1}" +
    ".status{font-size:12px;padding:4px 12px;background:#fef3c7;color:#78350f}" +
    ".status:empty{display:none}" +
    "ol{list-style:none;flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f7f8fa}" +
    "li{max-width:85%;padding:8px 10px;border-radius:10px;background:#fff;border:1px solid #e3e6eb;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere;align-self:flex-start}" +
    "li.me{align-self:flex-end;background:var(--c);color:#fff;border-color:transparent}" +
    ".who{display:block;font-size:11px;font-weight:600;opacity:.75}" +
    ".st{display:block;font-size:11px;opacity:.8;text-align:right}" +
    "li[data-state=failed]{background:#fee2e2;color:#7f1d1d}" +
    ".retry{font-size:12px;text-decoration:underline;margin-left:6px;color:inherit}" +
    ".opts{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}" +
    ".opt{border:1px solid var(--c);color:var(--c);background:#fff;border-radius:14px;padding:4px 10px;cursor:pointer}" +
    ".typing{font-size:12px;color:#5b6270;padding:2px 14px;min-height:1.6em;background:#f7f8fa}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e6eb;background:#fff}" +
    "textarea{flex:1;resize:none;border:1px solid #c9ced6;border-radius:8px;padding:8px;min-height:40px;max-height:120px;color:#1d2330;background:#fff}" +
    ".att svg{width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2}.file{display:block;color:inherit;text-decoration:underline}.file img{display:block;max-width:100%;max-height:180px;border-radius:6px}" +
    ".send{padding:0 14px;border-radius:8px;background:var(--c);color:#fff;font-weight:600}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    ".consent{padding:12px 14px;border-top:1px solid #e3e6eb;background:#fff;display:flex;flex-direction:column;gap:8px}" +
    ".consent[hidden],form[hidden],.withdraw[hidden]{display:none}" +
    ".consent .row{display:flex;gap:8px}" +
    ".consent .yes{padding:6px 12px;border-radius:8px;background:var(--c);color:#fff;font-weight:600}" +
    ".consent .no{padding:6px 12px;border-radius:8px;border:1px solid #c9ced6}" +
    ".withdraw{font-size:11px;text-decoration:underline;padding:2px 14px 6px;align-self:flex-start;color:#5b6270;background:#fff}" +
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}.open .launcher{display:none}}";

  function h(tag, attrs, text) {
    var el = document.createElement(tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    if (text != null) el.textContent = text;
    return el;
  }

  function icon(d) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  function build() {
    var host = document.createElement("div");
    host.setAttribute("data-inviaro-widget", "");
    // Inline !important beats the host page's stylesheets, including its own !important rules.
    host.style.cssText = "all:initial !important;position:fixed !important;right:0 !important;bottom:0 !important;" +
      "width:0 !important;height:0 !important;z-index:2147483647 !important;display:block !important;";
    var shadow = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = CSS;
    var root = h("div", { "class": "root" });
    var launcher = h("button", { "class": "launcher", type: "button", "aria-label": "Open chat",
      "aria-expanded": "false", "aria-controls": "inviaro-panel" });
    var svg = icon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z");
    var badgeEl = h("span", { "class": "badge", "aria-hidden": "true", hidden: "" });
    launcher.appendChild(svg); launcher.appendChild(badgeEl);

    var panel = h("div", { "class": "panel", id: "inviaro-panel", role: "dialog", "aria-labelledby": "inviaro-title", hidden: "" });
    var header = h("header");
    var hd = h("div");
    var title = h("h2", { id: "inviaro-title" }, "Chat");
    var agent = h("p", { "class": "sub" }, "");
    hd.appendChild(title); hd.appendChild(agent);
    var close = h("button", { "class": "x", type: "button", "aria-label": "Close chat" }, "\u00d7");
    header.appendChild(hd); header.appendChild(close);
    var statusEl = h("p", { "class": "status", role: "status" });
    var log = h("ol", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
    var typingEl = h("p", { "class": "typing", "aria-live": "polite" });
    var form = h("form");
    var input = h("textarea", { rows: "1", dir: "auto", "aria-label": "Type your message", placeholder: "Type your message…", maxlength: "10000" });
    var send = h("button", { "class": "send", type: "submit", "aria-label": "Send message" }, "Send");
    var attach = h("button", { "class": "att", type: "button", "aria-label": "Attach a file" });
    attach.appendChild(icon("M16 7v9a4 4 0 0 1-8 0V6a2.5 2.5 0 0 1 5 0v9a1 1 0 0 1-2 0V7"));
    var picker = h("input", { type: "file", hidden: "" });
    form.appendChild(attach); form.appendChild(picker); form.appendChild(input); form.appendChild(send);
    attach.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () { upload(picker.files[0]); picker.value = ""; });
    input.addEventListener("paste", function (e) {
      var f = e.clipboardData && e.clipboardData.files[0];
      if (f) { e.preventDefault(); upload(f); }
    });
    // A file dragged onto the conversation goes the same way as a pasted one.
    log.addEventListener("dragover", function (e) {
      if (e.dataTransfer && [].indexOf.call(e.dataTransfer.types, "Files") >= 0) e.preventDefault();
    });
    log.addEventListener("drop", function (e) {
      var f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) { e.preventDefault(); upload(f); }
    });
    // Consent to the workspace's purpose, asked before chatting when the workspace sets one.
    var consentBox = h("div", { "class": "consent", role: "group", "aria-label": "Consent", hidden: "" });
    var consentText = h("p", {});
    var consentRow = h("div", { "class": "row" });
    var yes = h("button", { "class": "yes", type: "button" }, "I agree");
    var no = h("button", { "class": "no", type: "button" }, "No, thanks");
    consentRow.appendChild(yes); consentRow.appendChild(no);
    consentBox.appendChild(consentText); consentBox.appendChild(consentRow);
    var withdraw = h("button", { "class": "withdraw", type: "button", hidden: "" }, "Withdraw my consent");
    [header, statusEl, log, typingEl, consentBox, form, withdraw].forEach(function (el) { panel.appendChild(el); });
    yes.addEventListener("click", function () { answerConsent(true); });
    no.addEventListener("click", function () { answerConsent(false); });
    withdraw.addEventListener("click", function () { answerConsent(false); });
    root.appendChild(launcher); root.appendChild(panel);
    shadow.appendChild(style); shadow.appendChild(root);

    launcher.addEventListener("click", function () { isOpen ? closePanel() : openPanel(); });
    close.addEventListener("click", function () { closePanel(); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.preventDefault(); closePanel(); } });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      submit(text);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
    input.addEventListener("input", function () { typing(input.value.length > 0); });
    log.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest(".retry");
      if (b) retry(b.getAttribute("data-id"));
      var o = e.target.closest && e.target.closest(".opt");
      if (o) submit(o.textContent, o.getAttribute("data-value"));
    });
    document.addEventListener("visibilitychange", function () { if (!document.hidden && isOpen) markRead(); });

    ui = { host: host, root: root, launcher: launcher, badge: badgeEl, panel: panel, title: title,
      agent: agent, status: statusEl, log: log, typing: typingEl, input: input, form: form,
      consent: consentBox, consentText: consentText, withdraw: withdraw };
    (document.body || document.documentElement).appendChild(host);
    queue.forEach(renderPending);
    badge();
    if (wantOpen) openPanel();
  }

  // The composer shows only once the visitor agreed to the current text (when one is set).
  function applyConsent() {
    var c = session.consent || {};
    var asking = !!c.text && !c.granted;
    ui.consentText.textContent = c.text || "";
    ui.consent.hidden = !asking;
    ui.form.hidden = asking;
    ui.withdraw.hidden = !c.text || !c.granted;
  }

  function answerConsent(granted) {
    var c = session.consent || {};
    fetch(HUB + "/api/widget/consent", {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ visitor_token: session.visitor_token, granted: granted, version: c.version })
    }).then(function (r) {
      if (r.status === 409) { startSession(); return; } // the text changed: show the new one
      if (r.status !== 201) { status("Your answer could not be saved; please try again."); return; }
      session.consent = { text: c.text, version: c.version, granted: granted };
      status(granted ? "" : "Without your consent this chat stays closed.");
      applyConsent();
    }, function () { status("Your answer could not be saved; please try again."); });
  }

  function applyLook() {
    ui.title.textContent = session.title || "Chat with us";
    var c = session.color;
    if (typeof c === "string" && /^#[0-9a-fA-F]{3,8}$/.test(c)) ui.root.style.setProperty("--c", c);
  }

  function openPanel() {
    if (!ui) { wantOpen = true; return; }
    isOpen = true;
    ui.panel.hidden = false;
    ui.root.classList.add("open");
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.setAttribute("aria-label", "Close chat");
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.input.focus();
    markRead();
  }
  function closePanel() {
    wantOpen = false;
    if (!ui || !isOpen) return;
    isOpen = false;
    ui.panel.hidden = true;
    ui.root.classList.remove("open");
    ui.launcher.setAttribute("aria-expanded", "false");
    badge();
    ui.launcher.focus();
  }
  var wantOpen = false;

  function badge() {
    if (!ui) return;
    ui.badge.hidden = unread === 0;
    ui.badge.textContent = unread > 99 ? "99+" : String(unread);
    if (!isOpen) ui.launcher.setAttribute("aria-label", unread ? "Open chat, " + unread + " unread" : "Open chat");
  }

  function status(text) { if (ui) ui.status.textContent = text; }

  function showTyping(author, active) {
    if (!ui) return;
    clearTimeout(typingTimer);
    ui.typing.textContent = active ? ((author && author.name) || "Someone") + " is typing…" : "";
    if (active) typingTimer = setTimeout(function () { ui.typing.textContent = ""; }, 6000);
  }

  function scrollDown() {
    var l = ui.log;
    if (l.scrollHeight - l.scrollTop - l.clientHeight < 80 || l.lastChild && l.lastChild.classList.contains("me")) l.scrollTop = l.scrollHeight;
  }

  function bubble(mine, who, text) {
    var li = h("li", { "class": mine ? "me" : "them" });
    if (who) li.appendChild(h("span", { "class": "who", dir: "auto" }, who));
    if (text) li.appendChild(h("span", { "class": "txt", dir: "auto" }, text)); // always text, never HTML
    return li;
  }

  function renderMessage(m) {
    var mine = m.direction === "in";
    var li = bubble(mine, mine ? null : (m.author && m.author.name) || (m.author && m.author.kind === "bot" ? "Bot" : "Support"), m.text || "");
    li.setAttribute("data-seq", m.seq);
    li.setAttribute("data-id", m.id);
    (m.attachments || []).forEach(function (a) { if (a.media_id) li.appendChild(fileLink(a)); });
    if (mine) { li.setAttribute("data-state", "sent"); li.appendChild(h("span", { "class": "st" }, "Sent")); dropOptions(); }
    else if (m.options && m.options.length && m.seq > lastSeq) {
      // A flow's choice: one button per option (labels as text, never HTML).
      var opts = h("div", { "class": "opts", role: "group", "aria-label": "Choose an answer" });
      m.options.forEach(function (o) {
        opts.appendChild(h("button", { "class": "opt", type: "button", dir: "auto", "data-value": String(o.value) }, String(o.label)));
      });
      li.appendChild(opts);
    }
    // Ordered by seq; pending (unacknowledged) messages stay at the end.
    var before = null;
    for (var n = ui.log.firstChild; n; n = n.nextSibling) {
      var s = n.getAttribute("data-seq");
      if (s == null || +s > m.seq) { before = n; break; }
    }
    ui.log.insertBefore(li, before);
    scrollDown();
    return li;
  }

  // ---- files: uploaded raw with the visitor token, shown through short-lived signed links ----
  function visitorFetch(path, init) {
    init = init || {};
    init.mode = "cors"; init.credentials = "omit";
    init.headers = Object.assign({ "x-visitor-token": session.visitor_token }, init.headers);
    return fetch(HUB + path, init).then(function (r) {
      return r.json().then(function (d) { if (!r.ok) throw new Error(d.detail || "HTTP " + r.status); return d; });
    });
  }
  function upload(file) {
    if (!file || !session) return;
    status("Sending " + (file.name || "your file") + "…");
    visitorFetch("/api/widget/files?name=" + encodeURIComponent(file.name || "image"), {
      method: "POST", headers: { "content-type": file.type || "application/octet-stream" }, body: file
    }).then(function (f) { status(""); submit("", null, [f.id]); },
      function (e) { status("Not sent: " + e.message); });
  }
  function fileLink(a) {
    var link = h("a", { "class": "file", target: "_blank", rel: "noopener noreferrer", dir: "auto" }, a.name || "file");
    visitorFetch("/api/widget/files/" + encodeURIComponent(a.media_id)).then(function (l) {
      link.href = l.url;
      if (l.thumbnail_url) { link.textContent = ""; link.appendChild(h("img", { src: l.thumbnail_url, alt: a.name || "image" })); }
    }, function () {});
    return link;
  }

  // Only the newest choice can be answered: answering (or writing) removes the buttons.
  function dropOptions() {
    if (!ui) return;
    var all = ui.log.querySelectorAll(".opts");
    for (var i = 0; i < all.length; i++) all[i].remove();
  }

  function renderPending(item) {
    if (!ui || pending[item.client_id]) return;
    var li = bubble(true, null, item.text);
    li.setAttribute("data-client-id", item.client_id);
    li.appendChild(h("span", { "class": "st" }));
    pending[item.client_id] = li;
    ui.log.appendChild(li);
    state(li, wsOpen && !resuming ? "sending" : "queued");
    scrollDown();
  }

  function state(li, s) {
    li.setAttribute("data-state", s);
    var st = li.querySelector(".st");
    st.textContent = s === "failed" ? "Not sent." : s === "queued" ? "Waiting for connection…" : "Sending…";
    if (s === "failed") {
      var b = h("button", { "class": "retry", type: "button", "data-id": li.getAttribute("data-client-id"),
        "aria-label": "Retry sending this message" }, "Retry");
      st.appendChild(b);
    }
  }

  // ---- network changes ----
  window.addEventListener("offline", function () {
    if (stopped || !session) return;
    closeSocket(); markQueued();
    status("You are offline. Messages will be sent when you reconnect.");
  });
  window.addEventListener("online", function () {
    if (stopped || !started) return;
    attempt = 0; status("Reconnecting…");
    if (!wsOpen) startSession();
  });

  // ---- public API: the only global ----
  window.Inviaro = {
    version: "1",
    open: function () { openPanel(); },
    close: function () { closePanel(); },
    toggle: function () { isOpen ? closePanel() : openPanel(); },
    identify: function (who) {
      identity = { user_id: who && (who.userId || who.user_id) || null, user_hash: who && (who.userHash || who.user_hash) || null };
      save("token", null); // never carry an anonymous conversation into a verified one
      session = null; resetThread(); closeSocket(); startSession();
    }
  };

  function start() { started = true; startSession(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
