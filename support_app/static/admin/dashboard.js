/* Draws the dashboard's charts from the JSON the server embedded in the page. */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var stats = JSON.parse(source.textContent);
  var words = JSON.parse(document.getElementById("dashboard-labels").textContent);
  var palette = ["#337ab7", "#5bc0de", "#f0ad4e", "#5cb85c", "#777777", "#d9534f"];
  function options(extra) {
    return Object.assign({ animation: false, responsive: true, locale: document.documentElement.lang,
                           plugins: { legend: { rtl: words.rtl } } }, extra || {});
  }

  new Chart(document.getElementById("chart-status"), {
    type: "doughnut",
    data: { labels: stats.by_status.names,
            datasets: [{ data: stats.by_status.values, backgroundColor: palette }] },
    options: options()
  });
  new Chart(document.getElementById("chart-per-day"), {
    type: "bar",
    data: { labels: stats.per_day.labels.map(function (d) { return d.slice(5); }),
            datasets: [{ label: words.tickets, data: stats.per_day.values, backgroundColor: "#337ab7" }] },
    options: options({ plugins: { legend: { display: false } },
                       scales: { x: { reverse: words.rtl },
                                 y: { beginAtZero: true, position: words.rtl ? "right" : "left", ticks: { stepSize: 1 } } } })
  });
  var perAgent = document.getElementById("chart-per-agent");
  if (perAgent) {
    new Chart(perAgent, {
      type: "bar",
      data: { labels: stats.per_agent.labels,
              datasets: [{ label: words.open, data: stats.per_agent.values, backgroundColor: "#f0ad4e" }] },
      options: options({ indexAxis: "y", plugins: { legend: { display: false } },
                         scales: { x: { beginAtZero: true, reverse: words.rtl, ticks: { stepSize: 1 } },
                                   y: { position: words.rtl ? "right" : "left" } } })
    });
  }
  document.body.setAttribute("data-charts", "ready");
})();
