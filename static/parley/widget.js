/*
 * Parley chat widget. A store embeds it with one tag:
 *   <script src="https://parley.example.com/static/parley/widget.js" data-key="pk_..." async></script>
 * Plain JavaScript, no dependencies. Everything lives in a shadow DOM so the store's CSS cannot
 * reach it, and every message is rendered with textContent: text is never interpreted as HTML.
 * Protocol: WebSocket /ws/v1/chat/ (see the README).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__parleyWidget) return;
  window.__parleyWidget = true;

  var KEY = script.getAttribute("data-key") || "";
  var SERVER = new URL(script.src, window.location.href);
  var WS_BASE = (SERVER.protocol === "https:" ? "wss://" : "ws://") + SERVER.host + "/ws/v1/chat/";
  var MAX_TEXT = 4000;
  var PREFIX = "parley:" + KEY + ":";
  // A signed-in customer, vouched for by the store's back end (README: "Shopper identity").
  var IDENTITY = ["customer-id", "customer-signature", "identity-token"];

  // --- storage (localStorage can throw in private modes: fall back to memory) ----------------
  var memory = {};
  function load(name, fallback) {
    var raw;
    try { raw = window.localStorage.getItem(PREFIX + name); } catch (e) { raw = memory[name]; }
    if (raw === null || raw === undefined) return fallback;
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }
  function save(name, value) {
    var raw = JSON.stringify(value);
    try { window.localStorage.setItem(PREFIX + name, raw); } catch (e) { memory[name] = raw; }
  }

  function newId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  var shopperId = load("shopper", null);
  if (!shopperId) { shopperId = newId(); save("shopper", shopperId); }
  var conversationId = load("conversation", null);
  var outbox = load("outbox", []); // [{client_msg_id, text}] not yet acknowledged

  // --- UI -------------------------------------------------------------------------------------
  var CSS = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;",
    "  border: 0; border-radius: 50%; background: #1f6feb; color: #fff; cursor: pointer;",
    "  display: flex; align-items: center; justify-content: center;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:focus-visible { outline: 3px solid #9cc2ff; }",
    ".panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483001; width: 360px; height: 520px;",
    "  max-height: calc(100vh - 110px); display: none; flex-direction: column; background: #fff; color: #1b1f24;",
    "  border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; font-size: 15px; }",
    ".panel.open { display: flex; }",
    ".head { display: flex; align-items: center; justify-content: space-between; padding: 12px 14px;",
    "  background: #1f6feb; color: #fff; font-weight: 600; }",
    ".close { background: none; border: 0; color: #fff; font-size: 22px; cursor: pointer; line-height: 1; }",
    ".status { font-size: 12px; font-weight: 400; opacity: .85; margin-left: 8px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px;",
    "  background: #f6f8fa; }",
    ".msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; line-height: 1.4; }",
    ".msg.shopper { align-self: flex-end; background: #1f6feb; color: #fff; border-bottom-right-radius: 4px; }",
    ".msg.bot, .msg.staff { align-self: flex-start; background: #fff; border: 1px solid #d0d7de;",
    "  border-bottom-left-radius: 4px; }",
    ".msg.staff { border-color: #2da44e; }",
    ".msg.system, .msg.note { align-self: center; background: none; color: #57606a; font-size: 13px; }",
    ".msg.sending { opacity: .6; }",
    ".msg.refused { opacity: .6; text-decoration: line-through; }",
    ".msg.streaming::after { content: '\\25CF'; margin-left: 3px; font-size: 9px; opacity: .5; }",
    ".typing { display: none; align-self: flex-start; padding: 8px 12px; gap: 4px; }",
    ".typing.on { display: flex; }",
    ".typing span { width: 7px; height: 7px; border-radius: 50%; background: #8c959f;",
    "  animation: blink 1.2s infinite ease-in-out; }",
    ".typing span:nth-child(2) { animation-delay: .2s; } .typing span:nth-child(3) { animation-delay: .4s; }",
    "@keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }",
    "form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d0d7de; background: #fff; }",
    "textarea { flex: 1; resize: none; height: 42px; max-height: 120px; padding: 10px; font-size: 15px;",
    "  border: 1px solid #d0d7de; border-radius: 8px; color: #1b1f24; background: #fff; }",
    ".rate { display: none; align-items: center; gap: 6px; padding: 8px 10px; border-top: 1px solid #d0d7de;",
    "  font-size: 13px; color: #57606a; background: #fff; }",
    ".rate.on { display: flex; }",
    ".rate .thanks, .rate.done > :not(.thanks) { display: none; }",
    ".rate.done .thanks { display: inline; }",
    ".rate button { border: 1px solid #d0d7de; border-radius: 6px; background: #fff; color: #1b1f24;",
    "  min-width: 30px; padding: 3px 0; cursor: pointer; }",
    ".send { border: 0; border-radius: 8px; padding: 0 14px; background: #1f6feb; color: #fff;",
    "  font-size: 15px; cursor: pointer; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }",
    "  .panel.open + .launcher, .launcher.hidden { display: none; }",
    "  textarea { font-size: 16px; }", // 16px stops iOS from zooming into the field
    "}"
  ].join("\n");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // An inline SVG speech bubble: an emoji renders as an empty box where no emoji font is installed.
  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"
    );
    svg.appendChild(path);
    return svg;
  }

  var host = el("div");
  host.id = "parley-chat";
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", null, CSS));

  var panel = el("section", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat with the store");
  var head = el("div", "head");
  var title = el("span", null, "Chat with us");
  var status = el("span", "status", "");
  title.appendChild(status);
  var closeButton = el("button", "close", "\u00d7");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  head.appendChild(title);
  head.appendChild(closeButton);
  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  var form = el("form");
  var input = el("textarea");
  input.setAttribute("aria-label", "Your message");
  input.setAttribute("placeholder", "Ask about shipping, returns, sizing\u2026");
  input.maxLength = MAX_TEXT;
  var sendButton = el("button", "send", "Send");
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(head);
  panel.appendChild(log);
  // The shopper's rating of the chat (CSAT), offered once there is an answer and at the end.
  var rating = el("div", "rate");
  rating.appendChild(el("span", null, "How did we do?"));
  [1, 2, 3, 4, 5].forEach(function (score) {
    var button = el("button", null, String(score));
    button.type = "button";
    button.setAttribute("aria-label", "Rate " + score + " out of 5");
    button.addEventListener("click", function () { rate(score); });
    rating.appendChild(button);
  });
  rating.appendChild(el("span", "thanks", "Thank you for your feedback!"));
  panel.appendChild(rating);
  panel.appendChild(form);
  var launcher = el("button", "launcher");
  launcher.appendChild(chatIcon());
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- the conversation as rendered -------------------------------------------------------------
  var byId = {};        // stored message id -> bubble
  var byClientId = {};  // client_msg_id -> bubble (our own messages)
  var replies = {};     // reply_id -> {bubble, text node, next seq}
  var lastId = 0;       // newest stored message id rendered

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addBubble(role, text) {
    var bubble = el("div", "msg " + role, text);
    log.insertBefore(bubble, typing.parentNode === log ? typing : null);
    scrollDown();
    return bubble;
  }

  function noteStored(id, bubble) {
    byId[id] = bubble;
    bubble.setAttribute("data-id", String(id));
    if (id > lastId) lastId = id;
  }

  function setTyping(on) {
    if (on) log.appendChild(typing); // keep it last
    typing.classList.toggle("on", on);
    if (on) scrollDown();
  }

  function replyFor(replyId) {
    var reply = replies[replyId];
    if (!reply) {
      // A new reply supersedes any unfinished one (e.g. from a worker that died mid-reply).
      Object.keys(replies).forEach(function (other) {
        if (replies[other].bubble.parentNode) log.removeChild(replies[other].bubble);
        delete replies[other];
      });
      var bubble = addBubble("bot streaming", "");
      var textNode = document.createTextNode("");
      bubble.appendChild(textNode);
      reply = replies[replyId] = { bubble: bubble, text: textNode, next: 0 };
    }
    return reply;
  }

  function finishReply(replyId, messageId, text) {
    var reply = replies[replyId];
    delete replies[replyId];
    setTyping(false);
    if (byId[messageId]) { // already shown by a resync
      if (reply && reply.bubble.parentNode) log.removeChild(reply.bubble);
      return;
    }
    var bubble = reply ? reply.bubble : addBubble("bot", "");
    bubble.className = "msg bot";
    bubble.textContent = text;
    noteStored(messageId, bubble);
    setTyping(false);
    scrollDown();
  }

  function showStored(message) {
    if (byId[message.id]) return;
    var mine = message.client_msg_id && byClientId[message.client_msg_id];
    if (mine) { acked(message.client_msg_id, message.id); return; }
    if (message.reply_id && replies[message.reply_id]) {
      finishReply(message.reply_id, message.id, message.text);
      return;
    }
    noteStored(message.id, addBubble(message.role, message.text));
  }

  function acked(clientMsgId, messageId) {
    outbox = outbox.filter(function (item) { return item.client_msg_id !== clientMsgId; });
    save("outbox", outbox);
    var bubble = byClientId[clientMsgId];
    if (bubble) {
      bubble.classList.remove("sending");
      noteStored(messageId, bubble);
    }
  }

  // A message the server will not take (the store's replies for today are spent): not resent.
  function refused(clientMsgId) {
    outbox = outbox.filter(function (item) { return item.client_msg_id !== clientMsgId; });
    save("outbox", outbox);
    var bubble = byClientId[clientMsgId];
    if (bubble) bubble.classList.replace("sending", "refused");
  }

  function note(text) { addBubble("note", text); }

  function resetLog() {
    rating.classList.remove("on");
    Object.keys(byId).forEach(function (id) { delete byId[id]; });
    Object.keys(replies).forEach(function (id) { delete replies[id]; });
    while (log.firstChild) log.removeChild(log.firstChild);
    lastId = 0;
    outbox.forEach(function (item) {
      byClientId[item.client_msg_id] = addBubble("shopper sending", item.text);
    });
  }

  // --- the socket ---------------------------------------------------------------------------------
  var socket = null;
  var ready = false;     // hello received on the current socket
  var attempts = 0;
  var retryTimer = null;

  function url() {
    var query = "?key=" + encodeURIComponent(KEY) + "&shopper=" + encodeURIComponent(shopperId);
    if (conversationId) query += "&conversation=" + encodeURIComponent(conversationId);
    IDENTITY.forEach(function (name) {
      var value = script.getAttribute("data-" + name);
      if (value) query += "&" + name.replace(/-/g, "_") + "=" + encodeURIComponent(value);
    });
    return WS_BASE + query;
  }

  function send(frame) {
    if (socket && ready && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function sendOutbox() {
    outbox.forEach(function (item) {
      send({ type: "message", client_msg_id: item.client_msg_id, text: item.text });
    });
  }

  function connect() {
    if (socket) return;
    clearTimeout(retryTimer);
    status.textContent = attempts ? "reconnecting\u2026" : "connecting\u2026";
    ready = false;
    socket = new WebSocket(url());
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    socket.onclose = function () {
      socket = null;
      ready = false;
      setTyping(false);
      status.textContent = "offline";
      // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 30 s.
      var delay = Math.min(30000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      attempts += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        attempts = 0;
        ready = true;
        status.textContent = "";
        if (String(frame.conversation) !== String(conversationId)) {
          conversationId = frame.conversation;
          save("conversation", conversationId);
          resetLog();
        }
        send({ type: "resume", last_message_id: lastId });
        sendOutbox();
        setTyping(Boolean(frame.replying));
        break;
      case "started": // the first message created the conversation
        conversationId = frame.conversation;
        save("conversation", conversationId);
        break;
      case "ack":
        acked(frame.client_msg_id, frame.message_id);
        break;
      case "typing":
        setTyping(true);
        break;
      case "delta":
        var reply = replyFor(frame.reply_id);
        if (frame.seq === reply.next) { // a repeat or a gap is left to the final text
          reply.text.appendData(frame.text);
          reply.next += 1;
          setTyping(false);
          scrollDown();
        }
        break;
      case "done":
        finishReply(frame.reply_id, frame.message_id, frame.text);
        offerRating();
        break;
      case "message":
        showStored(frame.message);
        if (frame.message.role === "staff") offerRating();
        break;
      case "staff_joined": // a person took over: the bot's reply, if any, was stopped
        setTyping(false);
        showStored(frame.message);
        break;
      case "stopped": // a reply stopped before its first word
        setTyping(false);
        if (replies[frame.reply_id]) {
          log.removeChild(replies[frame.reply_id].bubble);
          delete replies[frame.reply_id];
        }
        break;
      case "ended":
        offerRating();
        break;
      case "error":
        if (frame.code === "reply_failed") {
          setTyping(false);
          Object.keys(replies).forEach(function (id) {
            if (replies[id].bubble.parentNode) log.removeChild(replies[id].bubble);
            delete replies[id];
          });
        }
        if (frame.code === "budget_exhausted") refused(frame.client_msg_id);
        note(frame.message || "Something went wrong.");
        // Not taken now (the server is busy, or we sent too fast): unacknowledged messages go again.
        if (frame.retry_after) setTimeout(sendOutbox, frame.retry_after * 1000);
        break;
    }
  }

  // --- rating (CSAT) ----------------------------------------------------------------------------
  function offerRating() {
    if (load("rated", null) !== conversationId) rating.classList.add("on");
  }

  function rate(score) {
    if (!send({ type: "csat", score: score })) return;
    save("rated", conversationId);
    rating.classList.add("done");
    setTimeout(function () { rating.classList.remove("on", "done"); }, 2500);
  }

  // --- user actions --------------------------------------------------------------------------------
  function submit() {
    var text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) { note("Messages are limited to " + MAX_TEXT + " characters."); return; }
    var item = { client_msg_id: newId(), text: text };
    outbox.push(item);
    save("outbox", outbox);
    byClientId[item.client_msg_id] = addBubble("shopper sending", text);
    input.value = "";
    if (!send({ type: "message", client_msg_id: item.client_msg_id, text: text })) connect();
  }

  function open() {
    panel.classList.add("open");
    launcher.classList.add("hidden");
    launcher.setAttribute("aria-expanded", "true");
    connect();
    input.focus();
  }

  function close() {
    panel.classList.remove("open");
    launcher.classList.remove("hidden");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.classList.contains("open")) close(); else open();
  });
  closeButton.addEventListener("click", close);
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
  });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") close(); });

  function mount() {
    document.body.appendChild(host);
    outbox.forEach(function (item) {
      byClientId[item.client_msg_id] = addBubble("shopper sending", item.text);
    });
    // A returning shopper reconnects at once: history is shown and unsent messages go out.
    if (conversationId || outbox.length) connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
