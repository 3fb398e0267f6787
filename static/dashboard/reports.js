/*
 * The reports page's charts (Chart.js, served from static/vendor). Data comes from the page's
 * json_script block; labels are set as data, which Chart.js draws on a canvas (never HTML).
 */
(function () {
  "use strict";

  var report = JSON.parse(document.getElementById("report-data").textContent);
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var days = report.days.map(function (d) { // "2026-11-29" -> "Nov 29"
    var parts = d.day.split("-");
    return MONTHS[Number(parts[1]) - 1] + " " + Number(parts[2]);
  });
  var BLUE = "#1f6feb", ORANGE = "#d97706", GREEN = "#2da44e", RED = "#cf222e", GREY = "#8c959f";

  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function series(key, scale) {
    return report.days.map(function (d) {
      var v = d[key];
      return v === null || v === undefined ? null : v * (scale || 1);
    });
  }

  function line(label, data, color) {
    return { label: label, data: data, borderColor: color, backgroundColor: color,
             spanGaps: true, cubicInterpolationMode: "monotone", pointRadius: 3 };
  }

  function bar(label, data, color) {
    return { label: label, data: data, backgroundColor: color, borderRadius: 3 };
  }

  function chart(id, type, labels, datasets, yOptions) {
    return new Chart(document.getElementById(id), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: {
        scales: { y: Object.assign({ beginAtZero: true }, yOptions || {}) },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  chart("chart-cost", "line", days, [
    line("Cost per dialogue", series("cost_per_dialogue"), BLUE),
    line("Cost per resolution", series("cost_per_resolution"), ORANGE)
  ]);
  chart("chart-rates", "line", days, [
    line("Bot resolution rate %", series("bot_resolution_rate", 100), GREEN),
    line("Escalation rate %", series("escalation_rate", 100), RED)
  ], { max: 100 });
  chart("chart-csat", "bar", days, [bar("Mean CSAT", series("csat"), GREEN)], { min: 0, max: 5 });
  chart("chart-latency", "line", days, [
    line("p50", series("first_response_p50"), BLUE),
    line("p95", series("first_response_p95"), ORANGE)
  ]);
  chart("chart-tokens", "bar", days, [bar("Tokens per dialogue", series("tokens_per_dialogue"), BLUE)]);
  chart("chart-dialogues", "bar", days, [
    bar("Dialogues", series("dialogues"), GREY),
    bar("Resolved by the bot", series("resolved_by_bot"), GREEN),
    bar("Escalated", series("escalated"), RED)
  ]);

  var stores = report.stores;
  new Chart(document.getElementById("chart-stores"), {
    type: "bar",
    data: {
      labels: stores.map(function (s) { return s.store; }),
      datasets: [
        Object.assign(bar("Cost per dialogue", stores.map(function (s) { return s.cost_per_dialogue; }), BLUE), { yAxisID: "cost" }),
        Object.assign(bar("Bot resolution rate %", stores.map(function (s) {
          return s.bot_resolution_rate === null ? null : s.bot_resolution_rate * 100;
        }), GREEN), { yAxisID: "rate" })
      ]
    },
    options: {
      scales: {
        cost: { position: "left", beginAtZero: true },
        rate: { position: "right", beginAtZero: true, max: 100, grid: { drawOnChartArea: false } }
      },
      plugins: { legend: { position: "bottom" } }
    }
  });
})();
