// Figures a phone can read. A chapter's figure is drawn at 150 dpi with its smallest text (tick labels) at
// 12.65 pt, i.e. 26.4 image pixels; shrunk to a phone's column its axis text would fall to 5-8 CSS px. So on a narrow
// screen each figure keeps at least MIN_SCALE of its natural width (axis text >= 9 CSS px) and scrolls sideways in
// its own box, and a tap opens it at its natural size in the lightbox, where it pans (see pbe.css).
(() => {
  const MIN_SCALE = 0.35; // 9 CSS px / 26.4 px, rounded up
  const NARROW = 768;
  function fit(img) {
    if (!img.naturalWidth) return;
    const box = img.closest(".lightbox-container") || img.parentElement;
    if (window.innerWidth >= NARROW) {
      img.style.width = "";
      img.style.maxWidth = "";
      box.classList.remove("pbe-figure-scroll");
      return;
    }
    const min = Math.ceil(img.naturalWidth * MIN_SCALE); // natural width in CSS px at a device pixel ratio of 1
    if (img.parentElement.getBoundingClientRect().width >= min) return;
    img.style.maxWidth = "none";
    img.style.width = `${min}px`;
    box.classList.add("pbe-figure-scroll");
  }
  function all() {
    document.querySelectorAll("article figure img.lightbox-trigger, article .cell_output img").forEach((img) => {
      if (img.closest(".lightbox-content")) return; // the enlarged copy is shown at natural size by CSS
      if (img.complete) fit(img);
      else img.addEventListener("load", () => fit(img), { once: true });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
  window.addEventListener("resize", all);
})();
