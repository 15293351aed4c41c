// smstrail's only script: copy buttons and local-time niceties. Every page
// works without it; ids stay selectable text.
"use strict";

// Copies by selecting a hidden textarea: the path for plain-http LAN
// addresses (not a secure context) and for browsers that refuse the
// asynchronous clipboard.
function copyBySelection(text) {
  var area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  var ok = document.execCommand("copy");
  document.body.removeChild(area);
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).catch(function () {
      return copyBySelection(text);
    });
  }
  return copyBySelection(text);
}

document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  event.preventDefault();
  var label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  copyText(button.dataset.copy).then(function () {
    button.textContent = "Copied";
    button.classList.add("copied");
  }, function () {
    button.textContent = "Copy failed: select the text";
  }).finally(function () {
    setTimeout(function () {
      button.textContent = label;
      button.classList.remove("copied");
    }, 2000);
  });
});

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
  });
});
