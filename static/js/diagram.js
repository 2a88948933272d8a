// Placing a new lesion on the body diagram: a click, or the arrow keys once the diagram has focus, moves the
// new pin and writes its position (0..1 across both views, 0..1 down) into the form's hidden fields.
(function () {
  "use strict";
  const diagram = document.getElementById("body-diagram");
  const pin = document.getElementById("new-pin");
  const xField = document.getElementById("id_diagram_x");
  const yField = document.getElementById("id_diagram_y");
  const note = document.getElementById("placement");
  if (!diagram || !pin || !xField || !yField) return;
  const width = Number(diagram.dataset.width);
  const height = Number(diagram.dataset.height);
  const KEY_STEP = 0.01;

  function clamp(value) {
    return Math.min(1, Math.max(0, value));
  }

  function place(x, y) {
    x = clamp(x);
    y = clamp(y);
    xField.value = x.toFixed(4);
    yField.value = y.toFixed(4);
    pin.setAttribute("cx", String(x * width));
    pin.setAttribute("cy", String(y * height));
    pin.setAttribute("visibility", "visible");
    const view = x < 0.5 ? "front" : "back";
    note.textContent = `Placed on the ${view} view, ${Math.round(y * 100)}% down from the head.`;
  }

  diagram.addEventListener("click", function (event) {
    if (event.target.closest("a")) return;  // existing pins open their lesion
    const point = diagram.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const local = point.matrixTransform(diagram.getScreenCTM().inverse());
    place(local.x / width, local.y / height);
  });

  diagram.addEventListener("keydown", function (event) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[event.key];
    if (!move || event.target !== diagram) return;
    event.preventDefault();
    const x = xField.value === "" ? 0.25 : Number(xField.value);
    const y = yField.value === "" ? 0.4 : Number(yField.value);
    place(x + move[0] * KEY_STEP, y + move[1] * KEY_STEP);
  });

  if (xField.value !== "" && yField.value !== "") place(Number(xField.value), Number(yField.value));
})();
