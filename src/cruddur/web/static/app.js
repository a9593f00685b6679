/* Cruddur's screens: sending, older pages, the character counter and live events.
   Plain JavaScript, no build step, no inline scripts (the CSP forbids them). Text from the
   server is only ever inserted with textContent, never as HTML. */
(function () {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var seen = new Set(); // uuids of the messages on the page: a message is never shown twice
  var me = document.body.dataset.handle || "";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // --- times: the same rules as cruddur/web/timefmt.py -------------------------------------
  function parseTime(text) {
    var zoned = /([zZ]|[+-]\d\d:?\d\d)$/.test(text) ? text : text + "Z";
    var ms = Date.parse(zoned);
    return isNaN(ms) ? null : new Date(ms);
  }
  function relative(text, now) {
    var d = parseTime(text);
    if (!d) return text;
    var s = Math.floor((now - d.getTime()) / 1000);
    if (s < 60) return "now";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    if (s < 7 * 86400) return Math.floor(s / 86400) + "d";
    var day = MONTHS[d.getUTCMonth()] + " " + d.getUTCDate();
    return d.getUTCFullYear() === new Date(now).getUTCFullYear() ? day : day + ", " + d.getUTCFullYear();
  }
  function exact(text) {
    var d = parseTime(text);
    return d ? d.toISOString().slice(0, 19).replace("T", " ") + " UTC" : text;
  }
  function timeElement(text) {
    var t = document.createElement("time");
    t.dateTime = text;
    t.title = exact(text);
    t.textContent = relative(text, Date.now());
    return t;
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      t.textContent = relative(t.dateTime, now);
    });
  }

  function span(className, text) {
    var s = document.createElement("span");
    s.className = className;
    s.textContent = text;
    return s;
  }

  // --- requests to the same-origin /web routes ---------------------------------------------
  function request(method, url, body, extraHeaders) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrfToken();
    }
    Object.keys(extraHeaders || {}).forEach(function (name) { headers[name] = extraHeaders[name]; });
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          error.codes = (data && data.errors) || [];
          throw error;
        }
        return data;
      });
    });
  }

  // A fresh Idempotency-Key per send; the one retry below reuses it, so a send whose answer was
  // lost is stored once.
  function idempotencyKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function sendOnce(url, body) {
    var headers = { "Idempotency-Key": idempotencyKey() };
    return request("POST", url, body, headers).catch(function (error) {
      var retryable = !error.status || error.status === 503 || error.status === 409;
      if (!retryable) throw error;
      return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
        return request("POST", url, body, headers);
      });
    });
  }

  function problem(error) {
    var codes = error.codes || [];
    if (codes.indexOf("message_exceed_max_chars") >= 0) return "A message has at most 1024 characters.";
    if (codes.indexOf("message_blank") >= 0) return "Write a message first.";
    if (codes.indexOf("message_invalid_characters") >= 0) return "That message holds control characters; remove them.";
    if (error.status === 401) return "Your session has ended. Reload the page and sign in again.";
    if (error.status === 403) return "This page has expired. Reload it and try again.";
    if (error.status === 404) return "Not found: this conversation or user does not exist.";
    if (error.status === 429) return "You are sending too fast. Wait a moment and try again.";
    if (error.status === 503 || !error.status) return "Could not reach Cruddur. Try again.";
    return "That did not work. Try again.";
  }

  // --- the conversation list ---------------------------------------------------------------
  var list = document.getElementById("conversation-list");
  var conversation = document.getElementById("conversation");
  var groupUuid = conversation ? conversation.dataset.groupUuid || "" : "";

  function conversationItem(c) {
    var li = document.createElement("li");
    li.className = "conversation";
    li.dataset.uuid = c.uuid;
    var a = document.createElement("a");
    a.href = "/messages/" + encodeURIComponent(c.uuid);
    if (c.uuid === groupUuid) a.setAttribute("aria-current", "page");
    var who = span("who", "");
    who.appendChild(span("name", c.display_name));
    who.appendChild(document.createTextNode(" "));
    who.appendChild(span("handle", "@" + c.handle));
    a.appendChild(who);
    a.appendChild(timeElement(c.created_at));
    a.appendChild(span("last", c.message));
    li.appendChild(a);
    return li;
  }

  function findConversation(uuid) {
    if (!list) return null;
    var items = list.querySelectorAll("li.conversation");
    for (var i = 0; i < items.length; i++) if (items[i].dataset.uuid === uuid) return items[i];
    return null;
  }

  /* A row as GET /api/message_groups shows it: replaces the group's item, most recent first (a
     row older than the one shown is ignored: rows only move forward). A new message brings it to
     the top; a rename or a new member keeps its time, so it keeps its place. */
  function upsertConversation(c) {
    if (!list || !c || !c.uuid) return;
    var old = findConversation(c.uuid);
    if (old) {
      var shown = old.querySelector("time");
      if (shown && shown.dateTime > c.created_at) return;
      old.remove();
    }
    var items = list.querySelectorAll("li.conversation");
    var next = null;
    for (var i = 0; i < items.length && !next; i++) {
      var time = items[i].querySelector("time");
      if (!time || time.dateTime <= c.created_at) next = items[i];
    }
    list.insertBefore(conversationItem(c), next);
    var empty = document.getElementById("no-conversations");
    if (empty) empty.hidden = true;
  }

  function showSentInList(message) {
    var item = findConversation(message.message_group_uuid);
    if (!item) {
      reloadConversations();
      return;
    }
    var who = item.querySelector(".who"); // the row keeps its name; its text and time change
    upsertConversation({
      uuid: message.message_group_uuid,
      display_name: who ? who.querySelector(".name").textContent : "",
      handle: who ? who.querySelector(".handle").textContent.replace(/^@/, "") : "",
      message: message.message,
      created_at: message.created_at,
    });
  }

  function reloadConversations() {
    if (!list) return;
    request("GET", list.dataset.url).then(function (page) {
      page.items.slice().reverse().forEach(upsertConversation);
    }).catch(function () { /* the list catches up on the next event or reload */ });
  }

  var olderConversations = document.getElementById("older-conversations");
  if (olderConversations && list) {
    olderConversations.addEventListener("click", function (event) {
      event.preventDefault();
      var cursor = olderConversations.dataset.cursor;
      if (!cursor || olderConversations.getAttribute("aria-busy") === "true") return;
      olderConversations.setAttribute("aria-busy", "true");
      request("GET", list.dataset.url + "?cursor=" + encodeURIComponent(cursor)).then(function (page) {
        page.items.forEach(function (c) {
          if (!findConversation(c.uuid)) list.appendChild(conversationItem(c));
        });
        if (page.next_cursor) olderConversations.dataset.cursor = page.next_cursor;
        else olderConversations.remove();
      }).catch(function (error) {
        olderConversations.textContent = problem(error) + " (Older conversations)";
      }).finally(function () {
        olderConversations.removeAttribute("aria-busy");
      });
    });
  }

  // --- the conversation --------------------------------------------------------------------
  var messageList = document.getElementById("message-list");
  var scroller = document.getElementById("message-scroller");
  if (messageList) {
    messageList.querySelectorAll("li.message").forEach(function (li) { seen.add(li.dataset.uuid); });
  }

  function messageItem(m) {
    var li = document.createElement("li");
    li.className = "message" + (m.handle === me ? " mine" : "");
    li.dataset.uuid = m.uuid;
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.appendChild(span("name", m.display_name));
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(timeElement(m.created_at));
    li.appendChild(meta);
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = m.message;
    li.appendChild(p);
    return li;
  }

  function nearBottom() {
    return scroller && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function scrollToNewest() {
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  function appendMessage(m, follow) {
    if (!messageList || seen.has(m.uuid)) return;
    seen.add(m.uuid);
    var stick = follow || nearBottom();
    // in time order (timestamps are fixed width: text order is time order)
    var node = messageList.lastElementChild;
    while (node && node.querySelector("time").dateTime > m.created_at) node = node.previousElementSibling;
    messageList.insertBefore(messageItem(m), node ? node.nextSibling : messageList.firstChild);
    var empty = document.getElementById("no-messages");
    if (empty) empty.hidden = true;
    if (stick) scrollToNewest();
  }

  function reloadNewestMessages() {
    if (!conversation || !messageList || !conversation.dataset.messagesUrl) return;
    request("GET", conversation.dataset.messagesUrl).then(function (page) {
      page.items.forEach(function (m) { appendMessage(m, false); });
    }).catch(function () { /* the next event or a reload catches up */ });
  }

  var olderMessages = document.getElementById("older-messages");
  var loadingOlder = false;
  function loadOlderMessages() {
    if (!olderMessages || loadingOlder || !conversation) return;
    var cursor = olderMessages.dataset.cursor;
    if (!cursor) return;
    loadingOlder = true;
    olderMessages.setAttribute("aria-busy", "true");
    var url = conversation.dataset.messagesUrl + "?before=" + encodeURIComponent(cursor);
    request("GET", url).then(function (page) {
      var before = scroller.scrollHeight;
      var first = messageList.firstChild;
      page.items.forEach(function (m) {
        if (seen.has(m.uuid)) return;
        seen.add(m.uuid);
        messageList.insertBefore(messageItem(m), first);
      });
      scroller.scrollTop += scroller.scrollHeight - before; // keep what the reader was looking at
      if (page.next_cursor) {
        olderMessages.dataset.cursor = page.next_cursor;
      } else {
        olderMessages.remove();
        olderMessages = null;
      }
    }).catch(function (error) {
      if (olderMessages) olderMessages.textContent = problem(error) + " (Older messages)";
    }).finally(function () {
      loadingOlder = false;
      if (olderMessages) olderMessages.removeAttribute("aria-busy");
    });
  }
  if (olderMessages) {
    olderMessages.addEventListener("click", function (event) {
      event.preventDefault();
      loadOlderMessages();
    });
  }
  if (scroller && messageList) {
    scrollToNewest();
    scroller.addEventListener("scroll", function () {
      if (scroller.scrollTop < 80) loadOlderMessages();
    });
  }

  // --- the form: counter, Enter sends, Shift+Enter breaks the line ---------------------------
  var form = document.getElementById("message-form");
  if (form) {
    var text = form.querySelector("textarea");
    var remaining = document.getElementById("remaining");
    var button = form.querySelector('button[type="submit"]');
    var errorLine = document.getElementById("message-error");
    var max = parseInt(text.dataset.max || "1024", 10);
    var sending = false;
    var limitText = "A message has at most " + max + " characters.";

    var length = function () { return Array.from(text.value.trim()).length; }; // code points
    var showError = function (message) {
      errorLine.textContent = message;
      errorLine.hidden = !message;
    };
    var update = function () {
      var left = max - length();
      remaining.textContent = String(left);
      var over = left < 0;
      form.classList.toggle("over-limit", over);
      text.setAttribute("aria-invalid", over ? "true" : "false");
      button.disabled = sending || over || length() === 0;
      if (over) showError(limitText);
      else if (errorLine.textContent === limitText) showError("");
    };

    text.addEventListener("input", update);
    text.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      if (!button.disabled) form.requestSubmit(button);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sending || length() === 0 || length() > max) return;
      var body = { message: text.value };
      if (form.dataset.groupUuid) body.message_group_uuid = form.dataset.groupUuid;
      else body.handle = form.dataset.handle;
      sending = true;
      update();
      showError("");
      sendOnce(form.dataset.sendUrl, body).then(function (sent) {
        if (!form.dataset.groupUuid) {
          window.location.assign("/messages/" + encodeURIComponent(sent.message_group_uuid));
          return;
        }
        text.value = "";
        appendMessage(sent, true);
        showSentInList(sent);
      }).catch(function (error) {
        showError(problem(error));
      }).finally(function () {
        sending = false;
        update();
        text.focus();
      });
    });
    update();
  }

  // --- live events -------------------------------------------------------------------------
  var liveStatus = document.getElementById("live-status");
  var eventsUrl = (conversation && conversation.dataset.eventsUrl) || (list && list.dataset.eventsUrl);
  if (eventsUrl && window.EventSource) {
    var source = new EventSource(eventsUrl);
    source.addEventListener("message", function (event) {
      var m = JSON.parse(event.data);
      if (m.message_group_uuid && m.message_group_uuid === groupUuid) appendMessage(m, false);
    });
    source.addEventListener("conversation", function (event) {
      upsertConversation(JSON.parse(event.data));
    });
    source.addEventListener("conversation_gone", function (event) {
      // I left the group or was removed: it leaves my list (an open conversation also gets
      // not_member on its own stream)
      var gone = findConversation(JSON.parse(event.data).uuid);
      if (gone) gone.remove();
      var empty = document.getElementById("no-conversations");
      if (empty && list && !list.querySelector("li.conversation")) empty.hidden = false;
    });
    source.addEventListener("reset", function () {
      // events were lost (trimmed, expired): read the data again; nothing is shown twice
      reloadConversations();
      reloadNewestMessages();
    });
    var stop = function (text) {
      source.close();
      if (liveStatus) {
        liveStatus.textContent = text;
        liveStatus.hidden = false;
      }
    };
    source.addEventListener("token_expired", function () {
      stop("Your session has ended. Reload the page to sign in again.");
    });
    source.addEventListener("not_member", function () {
      stop("You are no longer in this conversation.");
    });
    source.addEventListener("open", function () {
      if (liveStatus) liveStatus.hidden = true;
    });
    source.addEventListener("error", function () {
      // CONNECTING: the browser reconnects by itself (with Last-Event-ID). CLOSED: it gave up
      // (live delivery unavailable, or the session ended): the page still works without it.
      if (source.readyState === EventSource.CLOSED && liveStatus) {
        liveStatus.textContent = "Live updates are off. Reload the page to see new messages.";
        liveStatus.hidden = false;
      }
    });
  }

  refreshTimes();
  window.setInterval(refreshTimes, 30000);
})();
