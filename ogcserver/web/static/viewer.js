// The map viewer: one layer of the server (or a list of the caller's layers) on Leaflet, drawn by
// WMS GetMap tiles; styles with their legend, dimensions, opacity, item footprints, values on click.
// Everything it shows comes from /viewer/layers.json, which lists only the caller's layers.
(function () {
  "use strict";
  var box = document.getElementById("map");
  var info = document.getElementById("info");
  var FOOTPRINT_LIMIT = 100;  // items drawn per view: the catalog's page, never the whole collection
  var map = null, wms = null, footprints = null, current = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // -- every request through one queue ---------------------------------------------------------
  // The server runs only so many requests of one caller at once and refuses more (429, or 503
  // when busy) with Retry-After: the page keeps within its share and tries a refused one again.
  var parallel = 1, running = 0, waiting = [];
  var RETRIES = 8;
  var DROPPED = new Error("no longer wanted");
  function always() { return true; }

  function pump() {
    while (running < parallel && waiting.length) {
      var job = waiting.shift();
      if (job.wanted()) {
        running += 1;
        attempt(job);
      } else {  // e.g. a tile the map let go while it waited (panned away, a new style)
        job.reject(DROPPED);
      }
    }
  }

  function attempt(job) {
    fetch(job.url, { credentials: "same-origin" }).then(function (r) {
      if ((r.status === 429 || r.status === 503) && job.tries < RETRIES) {
        job.tries += 1;
        var seconds = Number(r.headers.get("Retry-After")) || 1;
        setTimeout(function () { waiting.unshift(job); pump(); }, Math.min(seconds, 10) * 1000);
      } else {
        job.resolve(r);
      }
    }, job.reject).finally(function () { running -= 1; pump(); });
  }

  function request(url, wanted) {
    // queued first and started once the caller's code has run (a new tile is then in the map)
    return new Promise(function (resolve, reject) {
      waiting.push({ url: url, tries: 0, wanted: wanted || always, resolve: resolve, reject: reject });
      Promise.resolve().then(pump);
    });
  }

  function checked(url, wanted) {
    return request(url, wanted).then(function (r) {
      if (!r.ok) { throw new Error(url + ": " + r.status); }
      return r;
    });
  }

  function getJSON(url) { return checked(url).then(function (r) { return r.json(); }); }

  function showImage(img, url, wanted) {
    // an image through the queue; the object URL is let go once the image has decoded it
    return checked(url, wanted).then(function (r) { return r.blob(); }).then(function (blob) {
      var local = URL.createObjectURL(blob);
      img.addEventListener("load", function () { URL.revokeObjectURL(local); }, { once: true });
      img.src = local;
    });
  }

  var QueuedWMS = L.TileLayer.WMS.extend({
    createTile: function (coords, done) {
      var tile = document.createElement("img");
      tile.alt = "";
      tile.setAttribute("role", "presentation");
      tile.addEventListener("load", function () { done(null, tile); }, { once: true });
      var inMap = function () { return tile.isConnected; };
      showImage(tile, this.getTileUrl(coords), inMap).catch(function (err) {
        if (err !== DROPPED) { done(err, tile); }
      });
      return tile;
    }
  });

  function state(value) { box.dataset.state = value; }

  // -- the map at the layer's extent ----------------------------------------------------------

  function fit() {
    // the extent in the middle with a margin of a tenth; across 180 the east edge lies past it
    var b = current.bounds, size = map.getSize();
    var margin = [size.x * (1 - 1 / 1.1) / 2, size.y * (1 - 1 / 1.1) / 2];
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: margin, animate: false });
  }

  function dimensionParams() {
    var params = {};
    document.querySelectorAll("#dimensions [data-parameter]").forEach(function (input) {
      params[input.dataset.parameter] = input.dataset.value;
    });
    return params;
  }

  function show(layer) {
    current = layer;
    document.getElementById("heading").textContent = layer.title || layer.name;
    document.getElementById("abstract").textContent = layer.abstract;
    if (map) { map.remove(); }
    var crs = layer.crs === "EPSG:4326" ? L.CRS.EPSG4326 : L.CRS.EPSG3857;
    // zooms below 0 so that a whole world fits a small window (tiles of zoom 0, scaled down)
    map = L.map(box, { crs: crs, zoomSnap: 0, zoomDelta: 0.5, minZoom: -3, maxZoom: 24, fadeAnimation: false });
    L.control.scale().addTo(map);
    coordinates().addTo(map);
    controls(layer);
    // tiles over the layer's extent only, never wrapped: a layer across 180 is asked for past it
    // (one continuous picture), and a world layer is not repeated beside itself
    var b = layer.bounds;
    var params = { layers: layer.name, styles: styleSelect().value, format: "image/png", transparent: true,
                   version: "1.3.0", minZoom: -3, minNativeZoom: 0, maxZoom: 24, noWrap: true, bounds: [[b[1], b[0]], [b[3], b[2]]] };
    wms = new QueuedWMS(layer.wms, params).addTo(map);
    wms.setParams(dimensionParams(), true);
    wms.setOpacity(document.getElementById("opacity").value / 100);
    wms.on("loading", function () { state("loading"); });
    wms.on("load", function () { box.dataset.loads = String(Number(box.dataset.loads || 0) + 1); state("idle"); });
    map.on("click", featureInfo);
    map.on("moveend", drawFootprints);
    fit();
  }

  // -- controls in the panel ------------------------------------------------------------------

  function styleSelect() { return document.getElementById("style"); }

  function controls(layer) {
    var select = styleSelect(), legend = document.getElementById("legend");
    select.replaceChildren();
    layer.styles.forEach(function (s) {
      var option = el("option", { value: s.name }, s.title);
      option.selected = s.name === layer.default_style;
      select.appendChild(option);
    });
    document.getElementById("style-box").hidden = layer.styles.length === 0;
    function legendOf() {
      var chosen = layer.styles.filter(function (s) { return s.name === select.value; })[0];
      if (chosen) { showImage(legend, chosen.legend).catch(function (err) { info.textContent = String(err); }); }
    }
    select.onchange = function () { legendOf(); wms.setParams({ styles: select.value }); };
    legendOf();
    var holder = document.getElementById("dimensions");
    holder.replaceChildren();
    layer.dimensions.forEach(function (d) { holder.appendChild(dimensionControl(d)); });
    document.getElementById("footprints-box").hidden = !layer.items;
  }

  function dimensionControl(d) {
    // a slider over the values (the default first when it is none of them, e.g. a time range),
    // or a text field for a start/end range without listed values
    var label = el("label", {}, d.name + " ");
    var shown = el("span", { "class": "value" });
    label.appendChild(shown);
    var input;
    function choose(value) {
      input.dataset.value = value;
      shown.textContent = value === d.default ? value + " (default)" : value;
    }
    if (d.values) {
      var options = d.values.indexOf(d.default) < 0 ? [d.default].concat(d.values) : d.values.slice();
      input = el("input", { type: "range", min: 0, max: options.length - 1, step: 1 });
      input.value = options.indexOf(d.default);
      input.oninput = function () { choose(options[input.value]); };
      input.onchange = function () { choose(options[input.value]); changed(); };
    } else {
      input = el("input", { type: "text", value: d.default });
      input.onchange = function () { choose(input.value); changed(); };
    }
    input.id = "dim-" + d.name;
    input.dataset.parameter = d.parameter;
    choose(d.default);
    label.appendChild(input);
    return label;
  }

  function changed() {
    wms.setParams(dimensionParams());
    drawFootprints();
  }

  document.getElementById("opacity").oninput = function (e) { wms.setOpacity(e.target.value / 100); };
  document.getElementById("footprints").onchange = drawFootprints;

  // -- pointer coordinates --------------------------------------------------------------------

  function coordinates() {
    var Control = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function (m) {
        var div = L.DomUtil.create("div", "coordinates");
        m.on("mousemove", function (e) {
          var lon = ((e.latlng.lng + 180) % 360 + 360) % 360 - 180;  // a place on the globe again past 180
          div.textContent = e.latlng.lat.toFixed(5) + ", " + lon.toFixed(5);
        });
        return div;
      }
    });
    return new Control();
  }

  // -- values on click (WMS GetFeatureInfo, JSON) ----------------------------------------------

  function viewBox() {
    var crs = map.options.crs, b = map.getBounds();
    var nw = crs.project(b.getNorthWest()), se = crs.project(b.getSouthEast());
    if (crs === L.CRS.EPSG4326) { return [se.y, nw.x, nw.y, se.x].join(","); }  // WMS 1.3.0: lat, lon
    return [nw.x, se.y, se.x, nw.y].join(",");
  }

  function featureInfo(e) {
    var size = map.getSize();
    var params = Object.assign({
      SERVICE: "WMS", VERSION: "1.3.0", REQUEST: "GetFeatureInfo", LAYERS: current.name, QUERY_LAYERS: current.name,
      STYLES: styleSelect().value, CRS: map.options.crs.code, BBOX: viewBox(), WIDTH: size.x, HEIGHT: size.y,
      I: Math.round(e.containerPoint.x), J: Math.round(e.containerPoint.y), INFO_FORMAT: "application/json",
      FEATURE_COUNT: 5
    }, dimensionParams());
    if (!current.queryable) { info.textContent = "You may not query this layer."; return; }
    getJSON(current.wms + L.Util.getParamString(params)).then(function (doc) {
      var lines = [];
      doc.layers.forEach(function (layer) {
        if (!layer.features.length) { lines.push("no data here"); }
        layer.features.forEach(function (f) {
          lines.push(f.item + (f.acquired ? " (" + f.acquired + ")" : ""));
          Object.keys(f.values).forEach(function (k) { lines.push("  " + k + " = " + f.values[k]); });
        });
      });
      info.textContent = lines.join("\n");
      info.dataset.answered = String(Number(info.dataset.answered || 0) + 1);
    }).catch(function (err) { info.textContent = String(err); });
  }

  // -- mosaic item footprints (the catalog's GeoJSON for the view) ----------------------------

  function itemsUrl() {
    var b = map.getBounds();
    var west = b.getWest(), east = b.getEast();
    if (west < -180 || east > 180) { west = -180; east = 180; }  // a view across 180: every longitude
    var params = { bbox: [west, Math.max(b.getSouth(), -90), east, Math.min(b.getNorth(), 90)].join(","),
                   limit: FOOTPRINT_LIMIT };
    var time = document.querySelector("#dimensions [data-parameter=TIME]");
    if (time) { params.datetime = time.dataset.value; }
    return current.items + L.Util.getParamString(params);
  }

  function popup(feature) {
    var div = el("div");
    div.appendChild(el("b", {}, feature.id));
    var table = el("table");
    Object.keys(feature.properties).forEach(function (k) {
      var row = el("tr");
      row.appendChild(el("th", {}, k));
      row.appendChild(el("td", {}, String(feature.properties[k])));
      table.appendChild(row);
    });
    div.appendChild(table);
    feature.links.forEach(function (link) {
      var text = { preview: "view this item alone", enclosure: "download the original" }[link.rel];
      if (text) { div.appendChild(el("a", { href: link.href, target: "_blank", rel: "noopener" }, text)); div.appendChild(el("br")); }
    });
    return div;
  }

  function drawFootprints() {
    if (footprints) { map.removeLayer(footprints); footprints = null; }
    if (!current || !current.items || !document.getElementById("footprints").checked) { return; }
    var layer = current;
    getJSON(itemsUrl()).then(function (doc) {
      if (layer !== current) { return; }
      if (footprints) { map.removeLayer(footprints); }
      // the catalog lists the top item first: drawn last, it is the one a click finds
      footprints = L.geoJSON(doc.features.slice().reverse(), {
        style: { color: "#d33", weight: 2, fill: true, fillOpacity: 0.05 },
        onEachFeature: function (feature, shape) { shape.bindPopup(function () { return popup(feature); }); }
      }).addTo(map);
      box.dataset.footprints = String(doc.features.length);
      var more = doc.links.some(function (link) { return link.rel === "next"; });
      document.getElementById("footprints-note").textContent = more ? "the first " + FOOTPRINT_LIMIT + " items here" : "";
    }).catch(function (err) { info.textContent = String(err); });
  }

  // -- the layer list -------------------------------------------------------------------------

  function list(layers) {
    var section = document.getElementById("layer-list"), ul = section.querySelector("ul");
    layers.forEach(function (layer, i) {
      var li = el("li"), label = el("label");
      var radio = el("input", { type: "radio", name: "layer", value: layer.name });
      radio.checked = i === 0;
      radio.onchange = function () { location.hash = encodeURIComponent(layer.name); show(layer); };
      label.appendChild(radio);
      label.appendChild(document.createTextNode(" " + (layer.title || layer.name)));
      li.appendChild(label);
      ul.appendChild(li);
    });
    section.hidden = false;
  }

  function choose(layers) {
    var wanted = box.dataset.layer || decodeURIComponent(location.hash.slice(1));
    var chosen = layers.filter(function (l) { return l.name === wanted; })[0] || layers[0];
    if (!chosen) { state("empty"); info.textContent = "No layer to show."; return; }
    if (chosen === current) { return; }
    var radio = document.querySelector("#layer-list input[value='" + CSS.escape(chosen.name) + "']");
    if (radio) { radio.checked = true; }
    show(chosen);
  }

  getJSON(box.dataset.layers).then(function (doc) {
    parallel = doc.parallel;
    if (!box.dataset.layer) {
      list(doc.layers);
      window.addEventListener("hashchange", function () { choose(doc.layers); });
    }
    choose(doc.layers);
  }).catch(function (err) { state("failed"); info.textContent = String(err); });
})();
