// Counsellor console: the queue refreshes itself and a new red case raises a banner and a beep; the case page
// shows new messages live; canned replies fill the reply box. Plain JavaScript, no libraries.
(function () {
  "use strict";

  var soundOn = false;
  var audio = null;

  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35, 0.7].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + at); osc.stop(audio.currentTime + at + 0.2);
      });
    } catch (e) { /* no audio device: the banner still shows */ }
  }

  function redIds(root) {
    var ids = {};
    root.querySelectorAll('tr[data-severity="red"]').forEach(function (row) { ids[row.dataset.case] = true; });
    return ids;
  }

  function startQueue(region) {
    var known = redIds(region);
    var url = region.dataset.pollUrl, every = parseInt(region.dataset.pollMs, 10) || 3000;
    var banner = document.getElementById("red-alert");
    function refresh() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (resp) {
        if (resp.redirected || !resp.ok) { window.location.reload(); return null; }  // session ended: log in again
        return resp.text();
      }).then(function (html) {
        if (html === null) return;
        region.innerHTML = html;
        var now = redIds(region), fresh = Object.keys(now).filter(function (id) { return !known[id]; });
        known = now;
        if (fresh.length) {
          banner.hidden = false;
          document.title = "【新红色个案】童伴 工作台";
          beep();
        }
      }).catch(function () { /* offline for a moment: try again next round */ });
    }
    window.setInterval(refresh, every);
  }

  var sound = document.getElementById("sound");
  if (sound) {
    sound.addEventListener("click", function () {  // browsers allow audio only after a click
      soundOn = !soundOn;
      sound.setAttribute("aria-pressed", String(soundOn));
      sound.textContent = soundOn ? "关闭提示音" : "开启提示音";
      if (soundOn) beep();
    });
  }
  var region = document.getElementById("queue");
  if (region) startQueue(region);

  // The case page: new messages every 2 s without a reload (the request is not session activity). A family
  // message that raised the risk (red) shows the banner, flashes the title and beeps.
  var AUTHORS = { family: "家长", bot: "机器人", counsellor: "咨询员" };

  function stamp(iso) {
    var at = new Date(iso), beijing = new Date(at.getTime() + 8 * 3600 * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(beijing.getUTCMonth() + 1) + "-" + two(beijing.getUTCDate()) + " " +
      two(beijing.getUTCHours()) + ":" + two(beijing.getUTCMinutes());
  }

  function liveLine(m) {
    var li = document.createElement("li");
    li.className = "msg " + m.direction + " in-case level-" + m.level + " live";
    li.dataset.id = String(m.id);
    li.dataset.author = m.author;
    var bubble = li.appendChild(document.createElement("div"));
    bubble.className = "bubble";
    bubble.textContent = m.text;
    var meta = li.appendChild(document.createElement("div"));
    meta.className = "stamp";
    meta.textContent = stamp(m.created_at) + " · " + (AUTHORS[m.author] || m.author) + (m.by ? " " + m.by : "");
    return li;
  }

  function startLive(list) {
    var after = parseInt(list.dataset.after, 10) || 0, busy = false;
    var every = parseInt(list.dataset.pollMs, 10) || 2000, alert = document.getElementById("risk-alert");
    function refresh() {
      if (busy) return;
      busy = true;
      fetch(list.dataset.pollUrl + "?after=" + after, { credentials: "same-origin",
                                                        headers: { "Accept": "application/json" } })
        .then(function (resp) {
          if (resp.redirected || resp.status === 403) { window.location.reload(); return null; }
          return resp.ok ? resp.json() : null;
        }).then(function (rows) {
          if (!rows) return;
          rows.forEach(function (m) {
            if (list.querySelector('li[data-id="' + m.id + '"]')) return;
            list.appendChild(liveLine(m));
            after = Math.max(after, m.id);
            // A rise in human mode says whether the bot sent a safety reply; in bot mode the bot answered a red
            // message with its safety reply anyway.
            var mode = document.getElementById("conversation-mode");
            var botMode = !mode || mode.dataset.mode !== "human";
            if (m.direction === "in" && (m.raised || (botMode && m.level === "red"))) {
              alert.textContent = m.raised === "alert" ? alert.dataset.alert : alert.dataset.reply;
              alert.hidden = false;
              document.title = "【风险升高】" + document.title.replace(/^【风险升高】/, "");
              beep();
            }
          });
          if (rows.length) list.lastElementChild.scrollIntoView({ block: "nearest" });
        }).catch(function () { /* offline for a moment: next round */ })
        .then(function () { busy = false; });
    }
    window.setInterval(refresh, every);
  }

  var live = document.getElementById("live-messages");
  if (live) startLive(live);

  // A reply whose sending is refused (someone else took the case meanwhile) is kept in this tab only, and shown
  // on the refusal page so it can be copied; a reply that went out is forgotten.
  var DRAFT = "tongban-unsent-reply", replyForm = document.getElementById("reply-form");
  if (replyForm) {
    replyForm.addEventListener("submit", function () {
      try { sessionStorage.setItem(DRAFT, document.getElementById("reply-text").value); } catch (e) { /* private mode */ }
    });
  }
  try {
    var unsent = document.getElementById("unsent"), draft = sessionStorage.getItem(DRAFT);
    if (unsent && draft) {
      document.getElementById("unsent-draft").textContent = draft;
      unsent.hidden = false;
    } else if (/[?&]done=reply/.test(window.location.search)) {
      sessionStorage.removeItem(DRAFT);
    }
  } catch (e) { /* no storage: nothing kept */ }

  var canned = document.getElementById("canned"), text = document.getElementById("reply-text");
  if (canned && text) {
    canned.addEventListener("change", function () { if (canned.value) text.value = canned.value; });
  }
})();
