/*
 * The inbox table: rendered from conversation summaries (the page's and the live ones), always with
 * textContent. A live summary replaces its row, moves it to the top, or removes it when it no
 * longer passes the filters in force.
 */
(function () {
  "use strict";

  var filter = JSON.parse(document.getElementById("inbox-filter").textContent);
  var initial = JSON.parse(document.getElementById("inbox-rows").textContent);
  var table = document.getElementById("inbox");
  var body = table.querySelector("tbody");
  var conversationUrl = table.getAttribute("data-conversation-url");
  var empty = document.getElementById("inbox-empty");
  var rows = {};

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function cell(row, child) {
    var td = el("td");
    if (child) td.appendChild(child);
    row.appendChild(td);
    return td;
  }

  function matches(c) {
    if (filter.state === "open" ? filter.open_states.indexOf(c.state) < 0
        : filter.state !== "all" && c.state !== filter.state) return false;
    if (filter.store && c.store.id !== filter.store) return false;
    if (filter.assignee === "none" && c.assignee) return false;
    if (filter.assignee && filter.assignee !== "none" &&
        (!c.assignee || String(c.assignee.id) !== String(filter.assignee))) return false;
    if (filter.tag && !c.tags.some(function (t) { return t.id === filter.tag; })) return false;
    return true;
  }

  function render(c) {
    var row = el("tr", "state-" + c.state);
    row.setAttribute("data-id", String(c.id));
    var link = el("a", null, "#" + c.id);
    link.href = conversationUrl.replace("/0/", "/" + c.id + "/");
    var first = cell(row, link);
    first.appendChild(el("div", "muted", c.shopper));
    cell(row, el("span", null, c.store.name));
    var state = cell(row, el("span", "badge " + c.state, c.state_label));
    if (c.replying) state.appendChild(el("span", "replying", "bot replying\u2026"));
    if (c.state === "escalated") state.appendChild(el("span", "waiting", "waiting for a person"));
    var preview = cell(row);
    preview.className = "preview";
    if (c.last_message) {
      preview.appendChild(el("span", "role " + c.last_message.role, c.last_message.role + ": "));
      preview.appendChild(el("span", "text", c.last_message.text));
    }
    cell(row, el("span", c.assignee ? null : "muted", c.assignee ? c.assignee.name : "\u2014"));
    var tags = cell(row);
    c.tags.forEach(function (t) { tags.appendChild(el("span", "tag", t.name)); });
    var when = el("time", null, new Date(c.last_activity).toLocaleString());
    when.setAttribute("datetime", c.last_activity);
    cell(row, when);
    return row;
  }

  function update(c, live) {
    var old = rows[c.id];
    if (!matches(c) || (live && !old && filter.dated)) {
      if (old) { body.removeChild(old); delete rows[c.id]; }
    } else {
      var row = render(c);
      if (live) {
        row.classList.add("fresh");
        if (old) body.removeChild(old);
        body.insertBefore(row, body.firstChild);
      } else {
        body.appendChild(row);
      }
      rows[c.id] = row;
    }
    empty.hidden = body.children.length > 0;
  }

  initial.forEach(function (c) { update(c, false); });
  empty.hidden = body.children.length > 0;
  window.parleyLive({
    onConversation: function (c) { update(c, true); },
    onReconnect: function () { location.reload(); }
  });
})();
