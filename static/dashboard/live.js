/*
 * The staff socket (/ws/v1/staff/): live inbox updates of the user's stores, and the frames of a
 * watched conversation. Reconnects with backoff; after a reconnect the page is told, since frames
 * sent while it was away are lost.
 */
(function () {
  "use strict";

  window.parleyLive = function (options) {
    var status = document.getElementById("live-status");
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/v1/staff/";
    var socket = null;
    var attempts = 0;
    var connectedBefore = false;

    function show(text, className) {
      if (!status) return;
      status.textContent = text;
      status.className = "live-status " + className;
    }

    function connect() {
      show(attempts ? "reconnecting\u2026" : "connecting\u2026", "pending");
      socket = new WebSocket(url);
      socket.onmessage = function (event) {
        var frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        if (frame.type === "hello") {
          attempts = 0;
          show("live", "on");
          if (options.watch) socket.send(JSON.stringify({ type: "watch", conversation: options.watch }));
          if (connectedBefore && options.onReconnect) options.onReconnect();
          connectedBefore = true;
        } else if (frame.type === "conversation" && options.onConversation) {
          options.onConversation(frame.conversation);
        } else if (frame.type === "chat" && options.onChat) {
          options.onChat(frame.frame);
        }
      };
      socket.onclose = function () {
        show("offline", "off");
        var delay = Math.min(30000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
        attempts += 1;
        setTimeout(connect, delay);
      };
    }
    connect();
  };
})();
