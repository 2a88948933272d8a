// The photo form: a preview before sending, and the date taken read from the photo's EXIF when it has one
// (the server reads EXIF too, and falls back to the time of upload). Listeners sit on the document because
// htmx replaces the form after each upload.
(function () {
  "use strict";
  const EXIF_DATE_TIME_ORIGINAL = 0x9003;
  const EXIF_IFD_POINTER = 0x8769;

  function exifDateTaken(buffer) {
    const view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;  // not a JPEG
    let offset = 2;
    while (offset + 4 <= view.byteLength) {
      const marker = view.getUint16(offset);
      const length = view.getUint16(offset + 2);
      if (marker === 0xffe1 && view.getUint32(offset + 4) === 0x45786966) return readTiff(view, offset + 10);
      if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) return null;
      offset += 2 + length;
    }
    return null;
  }

  function readTiff(view, start) {
    const little = view.getUint16(start) === 0x4949;
    const u16 = (at) => view.getUint16(at, little);
    const u32 = (at) => view.getUint32(at, little);
    function entries(ifd) {
      const found = {};
      const count = u16(ifd);
      for (let index = 0; index < count; index += 1) {
        const entry = ifd + 2 + index * 12;
        found[u16(entry)] = entry;
      }
      return found;
    }
    const ifd0 = entries(start + u32(start + 4));
    if (!(EXIF_IFD_POINTER in ifd0)) return null;
    const exif = entries(start + u32(ifd0[EXIF_IFD_POINTER] + 8));
    if (!(EXIF_DATE_TIME_ORIGINAL in exif)) return null;
    const at = start + u32(exif[EXIF_DATE_TIME_ORIGINAL] + 8);
    let text = "";
    for (let index = 0; index < 19; index += 1) text += String.fromCharCode(view.getUint8(at + index));
    const match = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2})/.exec(text);
    return match ? `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}` : null;
  }

  // htmx replaced the form: put focus on what the answer says, the first refused field or the confirmation,
  // rather than losing it to the top of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    const form = document.getElementById("upload-form");
    if (!form || !event.target.contains(form)) return;
    const target = form.querySelector("[aria-invalid=true]") || form.querySelector(".message");
    if (!target) return;
    if (!target.matches("input, select, textarea")) target.setAttribute("tabindex", "-1");
    target.focus();
  });

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches("#upload-form input[type=file]")) return;
    const form = input.form;
    const figure = form.querySelector(".preview");
    const preview = form.querySelector("#upload-preview");
    const file = input.files && input.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (!file) {
      figure.hidden = true;
      return;
    }
    preview.src = URL.createObjectURL(file);
    figure.hidden = false;
    const dateField = form.querySelector("input[name=captured_at]");
    file.slice(0, 256 * 1024).arrayBuffer().then(function (buffer) {
      let taken = null;
      try {
        taken = exifDateTaken(buffer);
      } catch (error) {
        taken = null;  // a truncated or unusual EXIF block: leave the date to the server
      }
      if (taken && dateField && (!dateField.value || dateField.dataset.fromPhoto)) {
        dateField.value = taken;
        dateField.dataset.fromPhoto = "1";
      }
    });
  });
})();
