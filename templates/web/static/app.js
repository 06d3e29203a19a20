// vanban: the page's only script. Asks before a form that sends mail, and stops a second click
// while the server works (rendering or sending can take some seconds).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var button = form.querySelector("button[type=submit]");
  if (button) {
    var busy = button.getAttribute("data-busy");
    if (busy) { button.textContent = busy; }
    setTimeout(function () { button.disabled = true; }, 0);
  }
});
