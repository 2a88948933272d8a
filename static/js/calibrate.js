// Drawing a calibration line on a photo: the first click sets one end, the second the other (a third starts
// again). The ends go into the form's hidden fields in the stored photo's pixels, whatever size the photo is
// shown at; the server checks them and the typed length.
(function () {
  "use strict";
  const form = document.querySelector("[data-calibrate]");
  if (!form) return;
  const figure = form.querySelector(".calibrate");
  const photo = figure.querySelector("img");
  const line = figure.querySelector(".calibrate-line");
  const status = form.querySelector("[data-calibrate-status]");
  const width = Number(figure.dataset.width);
  const height = Number(figure.dataset.height);
  const fields = ["start_x", "start_y", "end_x", "end_y"].map((name) => form.querySelector(`[name=${name}]`));
  let ends = [];

  function photoPoint(event) {
    const box = photo.getBoundingClientRect();
    return [
      Math.round(((event.clientX - box.left) / box.width) * width),
      Math.round(((event.clientY - box.top) / box.height) * height),
    ];
  }

  function show() {
    const [start, end] = [ends[0], ends[1] || ends[0]];
    line.setAttribute("x1", start[0]);
    line.setAttribute("y1", start[1]);
    line.setAttribute("x2", end[0]);
    line.setAttribute("y2", end[1]);
    line.setAttribute("visibility", "visible");
    const values = ends.length === 2 ? [...ends[0], ...ends[1]] : ["", "", "", ""];
    fields.forEach((field, index) => { field.value = values[index]; });
    status.textContent = ends.length === 2
      ? `Line drawn: ${Math.round(Math.hypot(end[0] - start[0], end[1] - start[1]))} pixels of the photo. Type its length in millimetres.`
      : "One end set: click the other end.";
  }

  photo.addEventListener("click", function (event) {
    ends = ends.length === 1 ? [ends[0], photoPoint(event)] : [photoPoint(event)];
    show();
  });
})();
