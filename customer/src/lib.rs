//! The customers' WebAssembly entry point: hydrates the server-rendered page with the app
//! built without the agents' console (`app`'s feature `console`), for the pages customers
//! open (the chat's page and the widget). The server chooses which bundle a page loads
//! (`app::components`, `shell`); an agent who logs in here reloads the page and gets the
//! agents' bundle (`frontend/`).
//!
//! The recursion limit: as in `frontend/` (the page's view type is the same).
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the browser's console: in debug builds (`make watch`), and in
    // release ones built without -Zbuild-std; the others panic without one
    // (scripts/wasm-build-std.toml).
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
