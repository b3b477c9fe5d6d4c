/* Draws the report's chart (created and resolved bars, the backlog line for a time
   grouping) from the JSON the server embedded in the page. */
(function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var rtl = JSON.parse(document.getElementById("report-options").textContent).rtl;
  var datasets = [
    { type: "bar", label: data.words.created, data: data.created, backgroundColor: "#337ab7" },
    { type: "bar", label: data.words.resolved, data: data.resolved, backgroundColor: "#5cb85c" }
  ];
  if (data.backlog) {
    datasets.push({ type: "line", label: data.words.backlog, data: data.backlog,
                    borderColor: "#f0ad4e", backgroundColor: "#f0ad4e", tension: 0.2 });
  }
  new Chart(document.getElementById("chart-report"), {
    data: { labels: data.labels, datasets: datasets },
    options: { animation: false, responsive: true, locale: document.documentElement.lang,
               plugins: { legend: { rtl: rtl } },
               scales: { x: { reverse: rtl },
                         y: { beginAtZero: true, position: rtl ? "right" : "left", ticks: { precision: 0 } } } }
  });
  document.body.setAttribute("data-charts", "ready");
})();
