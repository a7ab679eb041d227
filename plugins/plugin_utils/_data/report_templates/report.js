// Sortable tables: click a column heading to sort by it, click again to
// reverse. A cell's data-sort (numbers, dates, severity ranks) is its key,
// else its text. A link ending in #sort=TABLE:COLUMN:asc|desc opens the page
// with that table sorted. Without JavaScript the tables read as they are.
(function () {
  "use strict";
  function key(cell) {
    var value = cell.getAttribute("data-sort");
    return value === null ? cell.textContent.trim().toLowerCase() : value;
  }
  function sortTable(table, column, direction) {
    var head = table.tHead.rows[0].cells, body = table.tBodies[0];
    var numeric = head[column].getAttribute("data-type") === "number";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]), order;
      if (numeric) {
        order = (parseFloat(x) || 0) - (parseFloat(y) || 0);
      } else {
        order = x < y ? -1 : x > y ? 1 : 0;
      }
      return direction === "desc" ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < head.length; i++) {
      if (i === column) {
        head[i].setAttribute("aria-sort", direction === "desc" ? "descending" : "ascending");
      } else {
        head[i].removeAttribute("aria-sort");
      }
    }
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    table.classList.add("js");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      function toggle() {
        sortTable(table, column, th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc");
      }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
      });
    });
  });
  var wanted = /^#sort=([A-Za-z0-9_-]+):(\d+):(asc|desc)$/.exec(window.location.hash);
  if (wanted) {
    var table = document.getElementById(wanted[1]);
    var column = parseInt(wanted[2], 10);
    if (table && table.classList.contains("js") && column < table.tHead.rows[0].cells.length) {
      sortTable(table, column, wanted[3]);
    }
  }
}());
