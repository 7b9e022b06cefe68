//! The WASM entry point: hydrates the server-rendered page.
//!
//! The recursion limit: Leptos gives every view a type that nests one level per element, and
//! hydrating the page computes the layout of an async block over the whole page's type. In
//! the release profile (`make run`, `make release`) that exceeded the default query depth of
//! 128 ("queries overflow the depth limit") while the debug build compiled; erasing the
//! console's sections and team panel (`into_any`) only moved the overflow to the page itself.
//! `make test` builds the release profile, so a view that outgrows this limit fails there
//! (docs/traps.md).
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the browser's console: in debug builds (`make watch`), and in
    // release ones built without -Zbuild-std; the others panic without one
    // (scripts/wasm-build-std.toml).
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
