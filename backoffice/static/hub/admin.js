"use strict";
// Select2 (the admin's autocomplete fields) draws its own combobox, named
// only by the option chosen: with none chosen it has no name (WCAG 4.1.2).
// Name it by its field's label, as the select it replaces was: as soon as
// Select2 draws it (a mutation observer runs within the same task, so no
// one ever meets it unnamed).
(function () {
    function nameComboboxes() {
        document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
            const label = document.querySelector('label[for="' + select.id + '"]');
            const name = label ? label.textContent.replace(/[\s:]+$/, "").trim() : "";
            // The combobox, and the box inside it that shows the choice.
            const parts = select.parentElement.querySelectorAll(
                '.select2-selection[role="combobox"], .select2-selection__rendered[role="textbox"]'
            );
            parts.forEach(function (part) {
                if (name && part.getAttribute("aria-label") !== name) {
                    part.setAttribute("aria-label", name);
                }
            });
        });
    }
    new MutationObserver(nameComboboxes).observe(document.documentElement, {childList: true, subtree: true});
    nameComboboxes();
})();
