/*
 * A conversation's page, live: new messages are fetched as server-rendered (escaped) rows whenever
 * the conversation changes; a bot reply is shown as it streams, with textContent; the state badge
 * and the actions that make sense follow the conversation's state.
 */
(function () {
  "use strict";

  var page = JSON.parse(document.getElementById("conversation-page").textContent);
  var root = document.getElementById("conversation");
  var list = document.getElementById("messages");
  var badge = document.getElementById("state-badge");
  var streaming = document.getElementById("streaming");
  var streamText = streaming.querySelector(".text");
  var messagesUrl = root.getAttribute("data-messages-url");
  var fetching = false;
  var again = false;

  function lastId() {
    var last = 0;
    list.querySelectorAll("li[data-id]").forEach(function (li) {
      last = Math.max(last, Number(li.getAttribute("data-id")));
    });
    return last;
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function fetchNew() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(messagesUrl.replace(/\/0\/$/, "/" + lastId() + "/"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html; // rows rendered and escaped by the server's template
        Array.prototype.forEach.call(holder.content.querySelectorAll("li[data-id]"), function (li) {
          if (!list.querySelector('li[data-id="' + li.getAttribute("data-id") + '"]')) {
            list.appendChild(li);
            if (li.classList.contains("bot")) stopStreaming();
          }
        });
        scrollDown();
      })
      .finally(function () {
        fetching = false;
        if (again) { again = false; fetchNew(); }
      });
  }

  function stopStreaming() {
    streaming.hidden = true;
    streamText.textContent = "";
  }

  function setState(c) {
    root.setAttribute("data-state", c.state);
    badge.textContent = c.state_label;
    badge.className = "badge " + c.state;
    document.getElementById("outcome").textContent = c.outcome || "\u2014";
    document.getElementById("csat").textContent = c.csat === null ? "\u2014" : String(c.csat);
  }

  function onChat(frame) {
    switch (frame.type) {
      case "typing":
        streamText.textContent = "\u2026";
        streaming.hidden = false;
        break;
      case "delta":
        if (frame.seq === 0) streamText.textContent = "";
        streamText.appendChild(document.createTextNode(frame.text));
        streaming.hidden = false;
        scrollDown();
        break;
      case "stopped":
      case "staff_joined":
      case "error":
        stopStreaming();
        fetchNew();
        break;
      default: // done, message, ended: something was stored
        fetchNew();
    }
  }

  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      if (canned.value) document.getElementById("compose-text").value = canned.value;
      canned.selectedIndex = 0;
    });
  }

  scrollDown();
  window.parleyLive({
    watch: page.conversation,
    onConversation: function (c) {
      if (c.id !== page.conversation) return;
      setState(c);
      fetchNew();
    },
    onChat: onChat,
    onReconnect: fetchNew
  });
})();
