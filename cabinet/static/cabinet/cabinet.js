// The cabinet's few live parts: message statuses, the simulated chat, Ctrl+Enter, copy buttons.
// Every page works without this file; it only saves reloads.
(function () {
  "use strict";
  var POLL_MS = 2000;

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function every(ms, work) {
    function tick() {
      var pending = document.hidden ? Promise.resolve() : work();
      pending.catch(function () {}).then(function () { setTimeout(tick, ms); });
    }
    setTimeout(tick, ms);
  }

  function fetchHtml(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin" }, options)).then(function (response) {
      // A redirect means the session is gone (to the login page): not a fragment.
      if (!response.ok || response.redirected) throw new Error(response.status);
      return response.text();
    });
  }

  // Message statuses: while a listed message is queued, fetch its row again.
  document.querySelectorAll("ol.messages[data-status-url]").forEach(function (list) {
    every(POLL_MS, function () {
      var queued = list.querySelectorAll('[data-status="queued"]');
      if (!queued.length) return Promise.resolve();
      var url = new URL(list.dataset.statusUrl, location.href);
      queued.forEach(function (row) { url.searchParams.append("id", row.dataset.messageId); });
      return fetchHtml(url).then(function (html) {
        fragment(html).querySelectorAll("li.message").forEach(function (row) {
          var old = document.getElementById(row.id);
          if (old && old.dataset.status !== row.dataset.status) old.replaceWith(row);
        });
      });
    });
  });

  // The simulated chat (demo mode): poll it, post to it, and reload the page once linking changed.
  var frame = document.querySelector("[data-demo-chat-url]");
  if (frame) {
    var showChat = function (html) {
      var log = frame.querySelector(".chat-log");
      var atBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      frame.replaceChildren(fragment(html));
      log = frame.querySelector(".chat-log");
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (log.dataset.linked !== frame.dataset.linked) location.assign(frame.dataset.reloadUrl);
    };
    var log = frame.querySelector(".chat-log");
    if (log) log.scrollTop = log.scrollHeight;
    every(POLL_MS, function () { return fetchHtml(frame.dataset.demoChatUrl).then(showChat); });
    document.querySelectorAll("form[data-demo-say]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = new FormData(form);
        var input = form.querySelector("input[name=text]:not([type=hidden])");
        if (input) input.value = "";
        fetchHtml(form.action, { method: "POST", body: body, headers: { "X-Fragment": "demo-chat" } })
          .then(showChat)
          .catch(function () {
            if (input) input.value = body.get("text");
            form.submit();
          });
      });
    });
  }

  // Ctrl+Enter (⌘+Enter on a Mac) sends a message typed in a text area, as chat apps do.
  var mac = /Mac|iPhone|iPad/.test(navigator.platform || "");
  document.querySelectorAll("form textarea").forEach(function (area) {
    area.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || !area.form) return;
      event.preventDefault();
      area.form.requestSubmit();
    });
    var hint = area.form && area.form.querySelector(".key-hint");
    if (hint) {
      if (mac) hint.textContent = hint.dataset.mac;
      hint.hidden = false;
    }
  });

  // Copy buttons: shown only where they can work.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = "value" in source ? source.value : source.textContent;
      navigator.clipboard.writeText(text).then(function () {
        var label = button.textContent;
        button.textContent = button.dataset.copied;
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
})();
