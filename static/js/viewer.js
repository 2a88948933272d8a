// The comparison viewer: every pane shows the same window onto the earlier photo's pixels (the later photo is
// drawn through the alignment transform), so zoom and pan stay synchronised by giving all panes one viewBox.
// Keyboard: + and - zoom, arrow keys pan, 0 resets, while the stage has focus; the sliders are ordinary
// range inputs.
(function () {
  "use strict";
  const viewer = document.querySelector("[data-viewer]");
  if (!viewer) return;
  const stage = viewer.querySelector(".stage");
  const svgs = stage.querySelectorAll("svg");
  const width = Number(stage.dataset.width);
  const height = Number(stage.dataset.height);
  const MAX_ZOOM = 16;
  const ZOOM_STEP = 1.25;
  const PAN_STEP = 0.1;  // of the visible width or height
  let zoom = 1;
  let centreX = width / 2;
  let centreY = height / 2;

  function render() {
    const viewWidth = width / zoom;
    const viewHeight = height / zoom;
    centreX = Math.min(width - viewWidth / 2, Math.max(viewWidth / 2, centreX));
    centreY = Math.min(height - viewHeight / 2, Math.max(viewHeight / 2, centreY));
    const box = [centreX - viewWidth / 2, centreY - viewHeight / 2, viewWidth, viewHeight].join(" ");
    svgs.forEach((svg) => svg.setAttribute("viewBox", box));
    stage.dataset.zoom = zoom.toFixed(3);
  }

  function zoomBy(factor, focusX, focusY) {
    const next = Math.min(MAX_ZOOM, Math.max(1, zoom * factor));
    if (focusX !== undefined) {
      // Keep the point under the pointer where it is.
      centreX = focusX + (centreX - focusX) * (zoom / next);
      centreY = focusY + (centreY - focusY) * (zoom / next);
    }
    zoom = next;
    render();
  }

  function pan(dx, dy) {
    centreX += dx * (width / zoom);
    centreY += dy * (height / zoom);
    render();
  }

  function reset() {
    zoom = 1;
    centreX = width / 2;
    centreY = height / 2;
    render();
  }

  function photoPoint(svg, clientX, clientY) {
    const point = svg.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse());
  }

  viewer.querySelectorAll("[data-zoom]").forEach((button) =>
    button.addEventListener("click", function () {
      const action = button.dataset.zoom;
      if (action === "reset") reset();
      else zoomBy(action === "in" ? ZOOM_STEP : 1 / ZOOM_STEP);
    }),
  );

  stage.addEventListener("keydown", function (event) {
    const pans = { ArrowLeft: [-PAN_STEP, 0], ArrowRight: [PAN_STEP, 0], ArrowUp: [0, -PAN_STEP], ArrowDown: [0, PAN_STEP] };
    if (event.key === "+" || event.key === "=") zoomBy(ZOOM_STEP);
    else if (event.key === "-" || event.key === "_") zoomBy(1 / ZOOM_STEP);
    else if (event.key === "0") reset();
    else if (pans[event.key]) pan(...pans[event.key]);
    else return;
    event.preventDefault();
  });

  stage.addEventListener(
    "wheel",
    function (event) {
      const svg = event.target.closest("svg");
      if (!svg) return;
      event.preventDefault();
      const point = photoPoint(svg, event.clientX, event.clientY);
      zoomBy(event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, point.x, point.y);
    },
    { passive: false },
  );

  // One pointer drags the view; two pointers (fingers on a phone) pinch to zoom.
  let drag = null;
  const pointers = new Map();
  let pinchDistance = 0;

  function spread() {
    const [first, second] = [...pointers.values()];
    return Math.hypot(first.x - second.x, first.y - second.y);
  }

  stage.addEventListener("pointerdown", function (event) {
    const svg = event.target.closest("svg");
    if (!svg) return;
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2) {
      drag = null;
      pinchDistance = spread();
    } else if (zoom > 1) {
      drag = { svg, start: photoPoint(svg, event.clientX, event.clientY) };
    }
  });
  stage.addEventListener("pointermove", function (event) {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2 && pinchDistance > 0) {
      const distance = spread();
      zoomBy(distance / pinchDistance);
      pinchDistance = distance;
    } else if (drag) {
      const now = photoPoint(drag.svg, event.clientX, event.clientY);
      centreX -= now.x - drag.start.x;
      centreY -= now.y - drag.start.y;
      render();
    }
  });
  ["pointerup", "pointercancel"].forEach((name) =>
    stage.addEventListener(name, function (event) {
      pointers.delete(event.pointerId);
      drag = null;
      pinchDistance = 0;
    }),
  );

  const overlayTop = stage.querySelector(".overlay-top");
  const swipeRect = stage.querySelector(".swipe-rect");
  const swipeLine = stage.querySelector(".swipe-line");
  const opacity = viewer.querySelector("input[name=opacity]");
  const divider = viewer.querySelector("input[name=divider]");

  function applyMode() {
    const mode = viewer.querySelector("input[name=mode]:checked").value;
    stage.querySelectorAll("[data-pane]").forEach((pane) => {
      pane.hidden = !pane.dataset.pane.split(" ").includes(mode);
    });
    viewer.querySelectorAll("[data-for-mode]").forEach((control) => {
      control.hidden = control.dataset.forMode !== mode;
    });
    stage.classList.toggle("single", mode !== "side");
    const swiping = mode === "swipe";
    overlayTop.setAttribute("opacity", swiping ? "1" : String(opacity.value / 100));
    if (swiping) overlayTop.setAttribute("clip-path", "url(#swipe-clip)");
    else overlayTop.removeAttribute("clip-path");
    swipeLine.setAttribute("visibility", swiping ? "visible" : "hidden");
    applyDivider();
  }

  function applyDivider() {
    // The later photo shows right of the divider, the earlier one left of it.
    const x = (divider.value / 100) * width;
    swipeRect.setAttribute("x", String(x));
    swipeRect.setAttribute("width", String(width - x));
    swipeLine.setAttribute("x1", String(x));
    swipeLine.setAttribute("x2", String(x));
  }

  viewer.querySelectorAll("input[name=mode]").forEach((radio) => radio.addEventListener("change", applyMode));
  opacity.addEventListener("input", applyMode);
  divider.addEventListener("input", applyDivider);
  viewer.querySelector("input[name=outline]").addEventListener("change", function (event) {
    stage.classList.toggle("no-outline", !event.target.checked);
  });

  applyMode();
  render();
})();
