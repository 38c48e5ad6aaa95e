// The article view: the paragraph named in the address (#p3) is highlighted, scrolled into view and focused.
"use strict";

(() => {
  function showCited() {
    for (const old of document.querySelectorAll(".paragraph.cited")) old.classList.remove("cited");
    const match = /^#p(\d+)$/.exec(window.location.hash);
    const target = match ? document.getElementById(`p${match[1]}`) : null;
    if (!target) return;
    target.classList.add("cited");
    // Centre a paragraph that fits; a long one starts at the top (below the sticky bar) so its first line shows.
    const fits = target.getBoundingClientRect().height < window.innerHeight * 0.6;
    target.scrollIntoView({block: fits ? "center" : "start"});
    target.focus({preventScroll: true});
  }

  window.addEventListener("hashchange", showCited);
  showCited();
})();
