/* The interview page, enhanced when scripts run (every part works without): the draft is saved to the
   server's draft slot when a field is left after a change and every 30 seconds while there are changes,
   and an upload shows its progress and, when refused, the reason the page gives. Nothing is kept in the browser: no storage, no cache. */
(function () {
  "use strict";

  function autosave(form, status) {
    var dirty = false;
    var saving = false;
    var submitting = false;
    var ended = false;
    form.addEventListener("input", function () { dirty = true; });
    // Save pressed while a save is on its way: the form is sent once that one is done, never beside it.
    form.addEventListener("submit", function (event) {
      // Sent now, an ended session would lead away to the login page and lose what is here: save it in place.
      if (ended) {
        event.preventDefault();
        dirty = true;
        save();
        return;
      }
      dirty = false;
      if (saving) {
        event.preventDefault();
        submitting = true;
      }
    });
    // Once the person has logged in again (in another tab), the forms here still carry the ended session's
    // token: take the new one from the page as the server shows it now, or stay ended.
    function renew() {
      return fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var token = page.querySelector("#draft-form input[name=csrf_token]");
          if (!token) { throw new Error("still ended"); }
          document.querySelectorAll("input[name=csrf_token]").forEach(function (input) { input.value = token.value; });
          ended = false;
        });
    }
    // A question just marked "answered" has no text yet: the service refuses such a draft (the answer needs its
    // text), so the save waits for the first words, or for another state, rather than fail in between.
    function awaitingText() {
      var marked = form.querySelectorAll("input[type=radio][name^='state_'][value=answered]:checked");
      return Array.prototype.some.call(marked, function (radio) {
        var box = form.elements.namedItem("answer_" + radio.name.slice("state_".length));
        return box !== null && typeof box.value === "string" && box.value.trim() === "";
      });
    }
    function save() {
      if (!dirty || saving || awaitingText()) { return; }
      dirty = false;
      saving = true;
      (ended ? renew() : Promise.resolve())
        .then(function () {
          return fetch(form.action, {
            method: "POST", body: new FormData(form), credentials: "same-origin", cache: "no-store"
          });
        })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          // An ended session answers with the login page: nothing was saved, and the page must say so.
          if (response.redirected && new URL(response.url).pathname === "/login") { ended = true; }
          return response.text();
        })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("saved-at");
          if (!fresh) { throw new Error("not saved"); }
          status.textContent = fresh.textContent;
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
          status.textContent = form.getAttribute(ended ? "data-session-ended" : "data-not-saved");
        })
        .then(function () {
          saving = false;
          if (submitting) { form.submit(); }
        });
    }
    form.addEventListener("change", save);
    window.setInterval(save, 30000);
  }

  // The upload goes to the page's own route, as without scripts; only the progress is added. Its answer is
  // the interview page: stored, it is shown; refused, the reason is taken from that page, in its language.
  function progress(form, bar, status) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.responseType = "document";
      bar.value = 0;
      bar.hidden = false;
      status.textContent = "";
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      request.addEventListener("load", function () {
        var url = new URL(request.responseURL || window.location.href);
        if (url.pathname === "/login") {
          bar.hidden = true;
          status.textContent = form.getAttribute("data-session-ended");
          return;
        }
        if (request.status === 200 && url.pathname === window.location.pathname) {
          // The redirect's fragment does not reach a script: the section is named again here.
          url.hash = "attachments";
          if (url.search === window.location.search) { window.location.reload(); } else { window.location.assign(url.href); }
          return;
        }
        bar.hidden = true;
        var page = request.response;
        var box = page ? page.getElementById("form-error") : null;
        if (box) {
          status.textContent = box.textContent.replace(/\s+/g, " ").trim();
        } else {
          // Refused before the page's route ran (a body far past the limit): no page to take the reason from.
          status.textContent = form.getAttribute(request.status === 413 ? "data-too-large" : "data-refused");
        }
      });
      request.addEventListener("error", function () {
        bar.hidden = true;
        status.textContent = form.getAttribute("data-unreachable");
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
