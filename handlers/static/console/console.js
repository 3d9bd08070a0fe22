// Counsellor console: the queue refreshes itself and a new red case raises a banner and a beep;
// canned replies fill the reply box. Plain JavaScript, no libraries.
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

  var canned = document.getElementById("canned"), text = document.getElementById("reply-text");
  if (canned && text) {
    canned.addEventListener("change", function () { if (canned.value) text.value = canned.value; });
  }
})();
