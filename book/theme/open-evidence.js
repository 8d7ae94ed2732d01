// Opens the folded evidence a link points to (#evidence-<id>): a browser scrolls to a closed
// <details> but leaves it closed, so "evidence" would land on a one-line summary.
(function () {
    "use strict";
    function openTarget() {
        var id = decodeURIComponent(window.location.hash.slice(1));
        var el = id ? document.getElementById(id) : null;
        if (el && el.tagName === "DETAILS" && !el.open) {
            el.open = true;
            el.scrollIntoView();
        }
    }
    window.addEventListener("hashchange", openTarget);
    document.addEventListener("DOMContentLoaded", openTarget);
})();
