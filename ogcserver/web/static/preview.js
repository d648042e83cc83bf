// A dependency-free WMS viewer in EPSG:3857: one GetMap per view, GetFeatureInfo on click.
(function () {
  "use strict";
  var map = document.getElementById("map");
  var info = document.getElementById("info");
  var layer = map.dataset.layer;
  var b = map.dataset.bounds.split(",").map(Number);
  var R = 6378137;
  function merc(lon, lat) {
    lat = Math.max(-85.05, Math.min(85.05, lat));
    return [R * lon * Math.PI / 180, R * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360))];
  }
  var lo = merc(b[0], b[1]), hi = merc(b[2], b[3]);
  var view = { cx: (lo[0] + hi[0]) / 2, cy: (lo[1] + hi[1]) / 2, res: null };
  function size() { return [map.clientWidth, map.clientHeight]; }
  function bbox() {
    var s = size();
    return [view.cx - view.res * s[0] / 2, view.cy - view.res * s[1] / 2,
            view.cx + view.res * s[0] / 2, view.cy + view.res * s[1] / 2];
  }
  function params(extra) {
    var s = size(), bb = bbox();
    var p = { SERVICE: "WMS", VERSION: "1.3.0", LAYERS: layer, STYLES: "", CRS: "EPSG:3857",
              BBOX: bb.join(","), WIDTH: s[0], HEIGHT: s[1] };
    for (var k in extra) { p[k] = extra[k]; }
    return Object.keys(p).map(function (k) { return k + "=" + encodeURIComponent(p[k]); }).join("&");
  }
  var img = document.createElement("img");
  map.appendChild(img);
  function draw() {
    var s = size();
    if (!(s[0] > 0 && s[1] > 0)) { return; }  // not laid out yet (a hidden frame): wait for resize
    if (view.res === null) {  // fit the layer's extent once the map has a size
      view.res = Math.max((hi[0] - lo[0]) / s[0], (hi[1] - lo[1]) / s[1]) * 1.1;
    }
    img.style.transform = "";
    img.src = "/wms?" + params({ REQUEST: "GetMap", FORMAT: "image/png", TRANSPARENT: "TRUE" });
  }
  var drag = null, moved = false;
  map.addEventListener("mousedown", function (e) { drag = [e.clientX, e.clientY]; moved = false; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag[0], dy = e.clientY - drag[1];
    if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; }
    img.style.transform = "translate(" + dx + "px," + dy + "px)";
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag[0], dy = e.clientY - drag[1];
    drag = null;
    if (moved) { view.cx -= dx * view.res; view.cy += dy * view.res; draw(); }
  });
  map.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = map.getBoundingClientRect(), s = size();
    var px = e.clientX - r.left, py = e.clientY - r.top;
    var x = view.cx + (px - s[0] / 2) * view.res, y = view.cy - (py - s[1] / 2) * view.res;
    var f = e.deltaY > 0 ? 2 : 0.5;
    view.res *= f;
    view.cx = x - (px - s[0] / 2) * view.res;
    view.cy = y + (py - s[1] / 2) * view.res;
    draw();
  }, { passive: false });
  map.addEventListener("click", function (e) {
    if (moved) { return; }
    var r = map.getBoundingClientRect();
    var url = "/wms?" + params({ REQUEST: "GetFeatureInfo", QUERY_LAYERS: layer, INFO_FORMAT: "text/plain",
      I: Math.round(e.clientX - r.left), J: Math.round(e.clientY - r.top) });
    fetch(url).then(function (r) { return r.text(); }).then(function (t) { info.textContent = t; });
  });
  var last = null;
  function redraw() {  // on resize: only when the map's size changed (the first call follows layout)
    var s = size().join("x");
    if (s !== last) { last = s; draw(); }
  }
  if (window.ResizeObserver) { new ResizeObserver(redraw).observe(map); }
  window.addEventListener("resize", redraw);
  redraw();
})();
