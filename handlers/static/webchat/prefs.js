// Runs before the page is drawn, so large text never flashes small first.
(function () {
  try {
    if (window.localStorage.getItem("tongban.largeText") === "1") {
      document.documentElement.classList.add("large");
    }
  } catch (e) { /* storage blocked: default size */ }
})();
