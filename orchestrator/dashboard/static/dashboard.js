// The dashboard's live parts: the jobs list and a job's timeline follow server-sent events; times read locally.
"use strict";
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }); }
    });
  }

  function followJobs(table) {
    var body = document.getElementById("job-rows");
    var counts = document.getElementById("counts");
    var source = new EventSource(table.dataset.live);
    source.addEventListener("jobs", function (msg) {
      var data = JSON.parse(msg.data);
      var before = {};
      body.querySelectorAll("tr[data-id]").forEach(function (tr) { before[tr.dataset.id] = tr.dataset.status; });
      body.innerHTML = data.rows;
      counts.innerHTML = data.counts;
      body.querySelectorAll("tr[data-id]").forEach(function (tr) {
        if (before[tr.dataset.id] !== tr.dataset.status) { tr.classList.add("fresh"); }
      });
    });
  }

  function followJob(list) {
    var source = new EventSource(list.dataset.live);
    var tokens = null;
    function scroll() { list.scrollTop = list.scrollHeight; }
    source.addEventListener("row", function (msg) {
      tokens = null;
      var data = JSON.parse(msg.data);
      list.insertAdjacentHTML("beforeend", data.html);
      var warnings = document.getElementById("ceiling-warnings");
      if (data.warning && warnings) {
        var li = document.createElement("li");
        li.textContent = data.warning;
        warnings.appendChild(li);
      }
      scroll();
    });
    source.addEventListener("token", function (msg) {
      if (tokens === null) {
        var li = document.createElement("li");
        li.className = "ev tokens";
        tokens = document.createElement("span");
        tokens.className = "tokens-text";
        li.appendChild(tokens);
        list.appendChild(li);
      }
      tokens.textContent += JSON.parse(msg.data).text;
      scroll();
    });
    source.addEventListener("progress", function (msg) {
      var p = JSON.parse(msg.data);
      var bar = document.getElementById("ceiling-bar");
      if (!bar) { return; }
      bar.style.width = p.percent + "%";
      var box = document.getElementById("ceiling");
      box.setAttribute("aria-valuenow", p.percent);
      box.classList.toggle("hot", p.fraction >= 0.8);
      box.classList.toggle("over", p.fraction >= 1);
      document.getElementById("ceiling-text").textContent =
        p.elapsed + " of " + p.ceiling + " used (" + p.percent + " %)";
    });
    source.addEventListener("status", function (msg) {
      var s = JSON.parse(msg.data);
      var badge = document.getElementById("job-status");
      badge.textContent = s.status;
      badge.className = "status s-" + s.status;
      document.getElementById("outcome").innerHTML = s.outcome;
      var form = document.getElementById("cancel-form");
      if (form) { form.remove(); }
    });
    source.addEventListener("end", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var table = document.getElementById("jobs");
    if (table && table.dataset.live) { followJobs(table); }
    var list = document.getElementById("timeline");
    if (list && list.dataset.live) { followJob(list); }
  });
})();
