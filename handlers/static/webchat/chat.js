// 童伴 web chat. Plain script, no build step. Every piece of text is set with textContent (never innerHTML).
// The server knows this visitor by an HttpOnly cookie. Messages are sent one at a time with a client id,
// so sending the same message again after a network failure is answered only once. Unsent messages are kept
// in localStorage until the server has them; the conversation itself is read back from /api/chat/history.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var messagesEl = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var statusEl = document.getElementById("status");
  var alertEl = document.getElementById("alert");
  var alertTitle = document.getElementById("alert-title");
  var alertFold = document.getElementById("alert-fold");
  var sizeToggle = document.getElementById("text-size");

  var SEND_TIMEOUT_MS = 30000;
  var POLL_MS = Math.max(2, config.pollSeconds || 4) * 1000;
  var PENDING_KEY = "tongban.pending";
  var DRAFT_KEY = "tongban.draft";
  var LARGE_KEY = "tongban.largeText";
  var PHONE_RE = /(12356|12355|110|120|119|122|0\d{2,3}-\d{7,8})/g;
  var LEVEL_RANK = { green: 0, yellow: 1, red: 2 };

  var lastId = null;         // highest message id shown; null until the first history load
  var shown = {};            // message id -> true
  var bubblesByClientId = {}; // client id -> row element of a message not yet confirmed by the server
  var queue = [];            // client ids waiting to be sent, oldest first
  var sending = false;
  var polling = false;
  var pollAgain = false;
  var pollTimer = null;
  var highestLevel = "green";
  var crisisRow = null;      // the newest red or yellow reply: its first line (the number to call) stays in sight

  // --- small helpers ------------------------------------------------------------------------------------
  function store(key, value) {
    try {
      if (value === null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* storage blocked (private mode): nothing is remembered */ }
  }
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function pendingList() {
    try { return JSON.parse(load(PENDING_KEY) || "[]"); } catch (e) { return []; }
  }
  function savePending(list) { store(PENDING_KEY, list.length ? JSON.stringify(list) : null); }
  function pendingText(clientId) {
    var found = pendingList().filter(function (p) { return p.id === clientId; })[0];
    return found ? found.text : null;
  }
  function forgetPending(clientId) {
    savePending(pendingList().filter(function (p) { return p.id !== clientId; }));
  }
  function newClientId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.className = isError ? "status error" : "status";
  }
  function nearBottom() {
    return messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 120;
  }
  function scrollToBottom() { messagesEl.scrollTop = messagesEl.scrollHeight; }

  // Phone numbers in a reply become tap-to-call links; the rest stays plain text.
  function fillText(node, text) {
    var last = 0;
    text.replace(PHONE_RE, function (match, _number, offset) {
      var before = text.charAt(offset - 1);
      var after = text.charAt(offset + match.length);
      if (/\d/.test(before) || /\d/.test(after)) { return match; }
      node.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = el("a", "", match);
      link.href = "tel:" + match.replace("-", "");
      node.appendChild(link);
      last = offset + match.length;
      return match;
    });
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  // --- drawing messages -----------------------------------------------------------------------------------
  var WHO = {
    visitor: { row: "mine", avatar: "我", said: "我说：" },
    bot: { row: "from-bot", avatar: "伴", said: "童伴说：" },
    counsellor: { row: "from-person", avatar: "工", said: "工作人员说：", name: "工作人员" }
  };

  function makeRow(author, text, level) {
    var who = WHO[author] || WHO.bot;
    var row = el("div", "row " + who.row + (level && level !== "green" ? " level-" + level : ""));
    row.appendChild(el("div", "avatar", who.avatar)).setAttribute("aria-hidden", "true");
    var body = row.appendChild(el("div", "body"));
    if (who.name) { body.appendChild(el("p", "name", who.name)).setAttribute("aria-hidden", "true"); }
    var bubble = body.appendChild(el("div", "bubble"));
    bubble.appendChild(el("span", "visually-hidden", who.said));
    var p = bubble.appendChild(el("p", "text"));
    if (author === "visitor") { p.textContent = text; } else { fillText(p, text); }
    return row;
  }

  function addSources(row, sources) {
    if (!sources || !sources.length) { return; }
    var details = el("details", "sources");
    details.appendChild(el("summary", "", "出处（" + sources.length + " 条）"));
    var list = details.appendChild(el("ul"));
    sources.forEach(function (s) {
      var item = list.appendChild(el("li", "", "《" + s.title + "》"));
      if (s.section) { item.appendChild(el("span", "section", s.section)); }
    });
    details.addEventListener("toggle", function () {
      if (!details.open) { return; }  // show the whole opened list, bubble edge included
      var hidden = row.getBoundingClientRect().bottom - messagesEl.getBoundingClientRect().bottom;
      if (hidden > 0) { messagesEl.scrollTop += hidden; }
    });
    row.querySelector(".bubble").appendChild(details);
  }

  // 👍/👎 under a knowledge answer or a not-covered reply: one vote per reply, changed by tapping the other
  // button, taken back by tapping the pressed one. A 👎 puts the question in front of a supervisor.
  var FEEDBACK = config.feedback || {};

  function addFeedback(row, m) {
    if (!m.rateable || m.author !== "bot") { return; }
    var bar = el("div", "feedback");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", FEEDBACK.ask || "");
    var note = el("span", "feedback-note");
    note.setAttribute("role", "status");
    var buttons = {};
    var sent = Promise.resolve();  // votes on one reply go out in order, so the last tap is the one kept
    function show(vote) {
      ["up", "down"].forEach(function (v) {
        buttons[v].setAttribute("aria-pressed", vote === v ? "true" : "false");
      });
      bar.dataset.vote = vote || "";
    }
    ["up", "down"].forEach(function (vote) {
      var button = bar.appendChild(el("button", "vote vote-" + vote, (vote === "up" ? "👍 " : "👎 ") + FEEDBACK[vote]));
      button.type = "button";
      button.dataset.vote = vote;
      buttons[vote] = button;
      button.addEventListener("click", function () {
        var before = bar.dataset.vote || null;
        var next = before === vote ? null : vote;
        show(next);
        note.textContent = "";
        sent = sent.then(function () {
          return fetch("/api/chat/feedback", {
            method: "POST",
            credentials: "same-origin",
            keepalive: true,  // a vote tapped just before leaving or reloading the page still arrives
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ message_id: m.id, vote: next })
          });
        }).then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          if (bar.dataset.vote === (next || "")) { note.textContent = next ? FEEDBACK["thanks_" + next] : ""; }
        }).catch(function () {
          if (bar.dataset.vote === (next || "")) { show(before); note.textContent = FEEDBACK.failed; }
        });
      });
    });
    bar.appendChild(note);
    show(m.vote || null);
    row.querySelector(".body").appendChild(bar);
  }

  // New rows go above the messages still waiting to be sent, which always stay at the bottom.
  function insertRow(row) {
    var firstWaiting = messagesEl.querySelector(".row.waiting");
    messagesEl.insertBefore(row, firstWaiting);
  }

  function showAlert(level) {
    if (LEVEL_RANK[level] <= LEVEL_RANK[highestLevel]) { return; }
    highestLevel = level;
    alertEl.hidden = false;
    alertEl.className = "alert " + level;  // a rise in risk opens a folded banner again
    alertFold.setAttribute("aria-expanded", "true");
    alertFold.textContent = "收起";
    alertTitle.textContent = level === "red" ? "有危险请马上打电话" : "需要帮忙，可以打这些电话";
  }

  alertFold.addEventListener("click", function () {
    var folded = alertEl.classList.toggle("folded");
    alertFold.setAttribute("aria-expanded", folded ? "false" : "true");
    alertFold.textContent = folded ? "展开" : "收起";
  });

  // A long crisis reply scrolled to its end would hide its first line under the banner: show its start.
  function revealCrisisStart() {
    if (!crisisRow) { return; }
    var top = crisisRow.getBoundingClientRect().top - messagesEl.getBoundingClientRect().top;
    if (top < 0) { messagesEl.scrollTop += top - 8; }
    crisisRow = null;
  }

  function showMessage(m) {
    if (shown[m.id]) { return; }
    shown[m.id] = true;
    lastId = lastId === null ? m.id : Math.max(lastId, m.id);
    var waiting = m.client_msg_id && bubblesByClientId[m.client_msg_id];
    if (waiting) {  // the server has this message now: it stops waiting and takes its place in the log
      delete bubblesByClientId[m.client_msg_id];
      forgetPending(m.client_msg_id);
      waiting.parentNode.removeChild(waiting);
    } else if (m.client_msg_id) {
      forgetPending(m.client_msg_id);
    }
    var row = makeRow(m.author, m.text, m.author === "visitor" ? "green" : m.level);
    row.dataset.id = String(m.id);
    addSources(row, m.sources);
    addFeedback(row, m);
    insertRow(row);
    if (m.level === "red" || m.level === "yellow") {
      showAlert(m.level);
      if (m.author !== "visitor") { crisisRow = row; }
    }
  }

  function setRowState(row, state) {
    var body = row.querySelector(".body");
    var old = body.querySelector(".state-box");
    if (old) { body.removeChild(old); }
    var box = body.appendChild(el("div", "state-box"));
    if (state === "sending") {
      box.appendChild(el("p", "state", "发送中…"));
    } else if (state === "queued") {
      box.appendChild(el("p", "state", "等一下就发…"));
    } else if (state === "failed") {
      box.appendChild(el("p", "state failed", "没发出去"));
      var retry = box.appendChild(el("button", "retry", "重发"));
      retry.type = "button";
      retry.setAttribute("aria-label", "重发这条消息");
      retry.addEventListener("click", function () { enqueue(row.dataset.clientId); });
    }
  }

  function addWaitingRow(clientId, text) {
    var row = makeRow("visitor", text);
    row.classList.add("waiting");
    row.dataset.clientId = clientId;
    bubblesByClientId[clientId] = row;
    messagesEl.appendChild(row);
    setRowState(row, "queued");
    scrollToBottom();
    return row;
  }

  // --- sending ----------------------------------------------------------------------------------------------
  function enqueue(clientId) {
    if (queue.indexOf(clientId) < 0) { queue.push(clientId); }
    var row = bubblesByClientId[clientId];
    if (row) { setRowState(row, "queued"); }
    sendNext();
  }

  function sendNext() {
    if (sending || !queue.length) { return; }
    var clientId = queue.shift();
    var text = pendingText(clientId);
    var row = bubblesByClientId[clientId];
    if (text === null || !row) { sendNext(); return; }
    sending = true;
    setRowState(row, "sending");
    setStatus("童伴正在回答…");
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) { controller.abort(); } }, SEND_TIMEOUT_MS);
    fetch("/api/chat", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text, client_msg_id: clientId }),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function () {
      setStatus("");
      return poll();
    }).catch(function (error) {
      if (bubblesByClientId[clientId]) { setRowState(row, "failed"); }
      var stale = /HTTP 4/.test(String(error && error.message));
      setStatus(stale ? "没发出去。请刷新页面，再点「重发」。您打的字还在。"
                      : "网络不好，消息没发出去。您打的字还在，点「重发」再试。", true);
      scrollToBottom();  // waiting messages are at the bottom: keep the 「重发」 button in sight
    }).then(function () {
      clearTimeout(timer);
      sending = false;
      sendNext();
    });
  }

  function submit(text) {
    text = text.trim();
    if (!text) { return false; }
    var clientId = newClientId();
    var list = pendingList();
    list.push({ id: clientId, text: text });
    savePending(list);
    addWaitingRow(clientId, text);
    enqueue(clientId);
    return true;
  }

  // --- reading the conversation -----------------------------------------------------------------------------
  function poll() {
    if (polling) { pollAgain = true; return Promise.resolve(); }
    polling = true;
    var url = "/api/chat/history" + (lastId === null ? "" : "?after=" + lastId);
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      var stick = nearBottom();
      var first = lastId === null;
      if (first) { lastId = 0; }
      data.messages.forEach(showMessage);
      if (first) { resumePending(); }
      if (data.messages.length && (stick || first)) { scrollToBottom(); revealCrisisStart(); }
      crisisRow = null;
      if (statusEl.dataset.offline) { delete statusEl.dataset.offline; setStatus(""); }
    }).catch(function () {
      if (!sending) { statusEl.dataset.offline = "1"; setStatus("网络断了，正在重新连接…", true); }
    }).then(function () {
      polling = false;
      if (pollAgain) { pollAgain = false; return poll(); }
    });
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (document.visibilityState === "hidden") { return; }  // no polling in the background; resumes on return
    pollTimer = setTimeout(function () { poll().then(schedulePoll); }, POLL_MS);
  }

  // Messages typed before a reload are shown at once and sent again once the history is known (the server
  // answers each client id only once, so one that did arrive is not answered twice).
  function showPending() {
    pendingList().forEach(function (p) { addWaitingRow(p.id, p.text); });
  }
  function resumePending() {
    pendingList().forEach(function (p) { if (bubblesByClientId[p.id]) { enqueue(p.id); } });
  }

  // --- quick topics -----------------------------------------------------------------------------------------
  function showTopicMenu(topic) {
    var row = makeRow("bot", "");
    var p = row.querySelector(".text");
    var examples = el("div", "examples");
    topic.reply.split("\n").forEach(function (line) {
      line = line.trim();
      if (/[？?]$/.test(line)) {
        var button = examples.appendChild(el("button", "example", line));
        button.type = "button";
        button.setAttribute("aria-label", "问：" + line);
        button.addEventListener("click", function () { submit(line); });
      } else if (line) {
        if (p.textContent) { p.appendChild(document.createTextNode("\n")); }
        fillText(p, line);
      }
    });
    row.querySelector(".bubble").appendChild(examples);
    insertRow(row);
    scrollToBottom();
  }

  document.querySelectorAll(".topic").forEach(function (button) {
    button.addEventListener("click", function () {
      var topic = config.topics[Number(button.dataset.topic)];
      if (topic.ask) { submit(topic.ask); } else { showTopicMenu(topic); }
    });
  });

  // --- input bar ------------------------------------------------------------------------------------------
  function fitInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 4, 8.5 * parseFloat(getComputedStyle(document.documentElement).fontSize)) + "px";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submit(input.value)) {
      input.value = "";
      store(DRAFT_KEY, null);
      fitInput();
    }
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends on a laptop; Shift+Enter (and the phone keyboard's return while composing) makes a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : sendButton.click();
    }
  });
  input.addEventListener("input", function () {
    store(DRAFT_KEY, input.value || null);
    fitInput();
  });
  input.value = load(DRAFT_KEY) || "";
  fitInput();

  // --- large text -------------------------------------------------------------------------------------------
  function applySize(large) {
    document.documentElement.classList.toggle("large", large);
    // A toggle keeps its name; the tick and the dark fill say it is on (tap again to go back).
    sizeToggle.setAttribute("aria-pressed", large ? "true" : "false");
    sizeToggle.textContent = large ? "✓ 大字" : "大字";
    fitInput();
  }
  sizeToggle.addEventListener("click", function () {
    var large = !document.documentElement.classList.contains("large");
    store(LARGE_KEY, large ? "1" : null);
    applySize(large);
  });
  applySize(document.documentElement.classList.contains("large"));

  // --- start -------------------------------------------------------------------------------------------------
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { poll().then(schedulePoll); } else { clearTimeout(pollTimer); }
  });
  // The network came back: messages that could not go out are sent again, in order (the server answers each
  // client message id once), and the log catches up with what counsellors wrote meanwhile.
  window.addEventListener("online", function () { resumePending(); poll(); });
  showPending();
  poll().then(schedulePoll);
})();
