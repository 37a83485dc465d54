// groupd console: small progressive enhancements. Every form works without it.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="element-id">.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el) return;
      var text = el.textContent;
      var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(el); });
      } else { select(el); try { document.execCommand("copy"); done(); } catch (e) { /* selected for manual copy */ } }
    });
  });
  function select(el) {
    var r = document.createRange(); r.selectNodeContents(el);
    var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
  }
  // Icon preview: <input type=file data-preview="img-id">, <input type=url data-preview="img-id">.
  document.querySelectorAll("input[data-preview]").forEach(function (input) {
    var img = document.getElementById(input.getAttribute("data-preview"));
    if (!img) return;
    input.addEventListener("change", function () {
      if (input.type === "file") {
        var f = input.files && input.files[0];
        if (f) { img.src = URL.createObjectURL(f); img.hidden = false; }
      } else if (/^https?:\/\//.test(input.value)) {
        img.src = input.value; img.hidden = false;
      }
    });
  });
  // Confirm destructive actions: <form data-confirm="...">.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // Show the password input only when "set a password" is chosen.
  var pw = document.getElementById("password-input");
  if (pw) {
    var sync = function () {
      var set = document.querySelector("input[name=password_action][value=set]");
      pw.hidden = !(set && set.checked);
    };
    document.querySelectorAll("input[name=password_action]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  }
})();
