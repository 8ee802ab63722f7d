/* The interview page, enhanced when scripts run (every part works without): the draft is saved to the
   server's draft slot when a field is left after a change and every 30 seconds while there are changes,
   and an upload shows its progress. Nothing is kept in the browser: no storage, no cache. */
(function () {
  "use strict";

  function autosave(form, status) {
    var dirty = false;
    var saving = false;
    var submitting = false;
    form.addEventListener("input", function () { dirty = true; });
    // Save pressed while a save is on its way: the form is sent once that one is done, never beside it.
    form.addEventListener("submit", function (event) {
      dirty = false;
      if (saving) {
        event.preventDefault();
        submitting = true;
      }
    });
    function save() {
      if (!dirty || saving) { return; }
      dirty = false;
      saving = true;
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("saved-at");
          if (fresh) { status.textContent = fresh.textContent; }
          // What is read back is what was just saved, and the confirmation names that revision.
          var text = page.getElementById("readback-text");
          var shown = document.getElementById("readback-text");
          if (text && shown) { shown.replaceWith(document.importNode(text, true)); }
          var revision = page.querySelector("input[name=draft_revision]");
          var posted = document.querySelector("input[name=draft_revision]");
          if (revision && posted) { posted.value = revision.value; }
        })
        .catch(function () {
          dirty = true;
          status.textContent = form.getAttribute("data-not-saved");
        })
        .then(function () {
          saving = false;
          if (submitting) { form.submit(); }
        });
    }
    form.addEventListener("change", save);
    window.setInterval(save, 30000);
  }

  function progress(form, bar, status) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.responseType = "json";
      bar.value = 0;
      bar.hidden = false;
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      request.addEventListener("load", function () {
        if (request.status === 201) {
          window.location.reload();
          return;
        }
        var body = request.response || {};
        status.textContent = form.getAttribute("data-refused") + " " + (body.detail || request.status);
      });
      request.addEventListener("error", function () {
        status.textContent = form.getAttribute("data-refused");
      });
      request.send(new FormData(form));
    });
  }

  var draft = document.getElementById("draft-form");
  var saved = document.getElementById("saved-at");
  if (draft && saved && window.fetch && window.DOMParser) { autosave(draft, saved); }
  var upload = document.getElementById("upload-form");
  var bar = document.getElementById("upload-progress");
  var uploadStatus = document.getElementById("upload-status");
  if (upload && bar && uploadStatus && window.FormData) { progress(upload, bar, uploadStatus); }
}());
